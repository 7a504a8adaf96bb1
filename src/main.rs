fn main() -> std::process::ExitCode {
    tlsaudit::cli::main()
}
