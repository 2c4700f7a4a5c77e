//! An HTTP app in Rust, the WAGI way: the request comes in as CGI
//! environment variables, arguments and stdin; the response goes out on
//! stdout as headers, a blank line and the body.
use std::env;
use std::io::{self, Read};

fn main() {
    let method = env::var("REQUEST_METHOD").unwrap_or_default();
    let path = env::var("PATH_INFO").unwrap_or_default();
    let mut body = String::new();
    let _ = io::stdin().read_to_string(&mut body);
    println!("Content-Type: application/json");
    println!();
    println!(
        "{{\"greeting\":\"Hello from Qyvol, in Rust!\",\"method\":\"{}\",\"path\":\"{}\",\"body_bytes\":{}}}",
        method.escape_default(),
        path.escape_default(),
        body.len()
    );
}
