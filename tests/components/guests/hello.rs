// hello.rs — a Rust WASI command (std's fs, env and io), built with
// Debian's rustc for wasm32-wasi and wrapped by jco into a component.
use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("hello from Rust, args {:?}", args);
    match std::env::var("GREETING") {
        Ok(g) => println!("GREETING={}", g),
        Err(_) => println!("GREETING=(unset)"),
    }
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    println!("stdin had {} bytes", input.len());
    if std::path::Path::new("/data").exists() {
        std::fs::write("/data/rust.txt", "written by Rust\n").expect("write");
        let back = std::fs::read_to_string("/data/rust.txt").expect("read");
        print!("read back: {}", back);
        let names: Vec<String> = std::fs::read_dir("/data")
            .expect("read_dir")
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        println!("listing: {:?}", names);
        std::fs::remove_file("/data/rust.txt").expect("remove");
        println!("escape: {}", if std::fs::read("/data/../etc/passwd").is_ok() { "OPENED" } else { "refused" });
    }
    if args.first().map(|s| s.as_str()) == Some("fail") {
        std::process::exit(3);
    }
}
