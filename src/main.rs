//! The `pbxctl` binary: everything lives in the library.

fn main() {
    std::process::exit(pbxctl::cli::main(std::env::args_os()));
}
