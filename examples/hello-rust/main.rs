//! The hello example in Rust, built with Debian's rustc for wasm32-wasi.
use std::env;

fn main() {
    let greeting = env::var("GREETING").unwrap_or_else(|_| "Hello".to_string());
    println!("{} from Qyvol, in Rust!", greeting);
    let args: Vec<String> = env::args().collect();
    println!("args: {}", args.join(" "));
}
