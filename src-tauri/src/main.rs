//! The desktop app's entry point; the same binary also runs Lectern's isolated PDF extractor.

fn main() -> std::process::ExitCode {
    lectern_app::main()
}
