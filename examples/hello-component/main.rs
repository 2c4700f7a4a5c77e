// The hello-component example: greets, shows its arguments and reads the
// file its manifest lets it read.
fn main() {
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_string());
    println!("{} from a Qyvol component!", greeting);
    let args: Vec<String> = std::env::args().collect();
    println!("args: {}", args.join(" "));
    match std::fs::read_to_string("/app/data/motd.txt") {
        Ok(text) => print!("motd: {}", text),
        Err(e) => println!("motd: {}", e),
    }
    match std::fs::write("/app/data/new.txt", "x") {
        Ok(()) => println!("write: allowed (unexpected)"),
        Err(_) => println!("write: refused (read-only grant)"),
    }
}
