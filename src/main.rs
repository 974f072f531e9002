//! The `zkinfer` command-line tool.

mod cli;

fn main() -> std::process::ExitCode {
    // Like other Unix tools, end quietly when a reader closes the pipe (`zkinfer verify … | head
    // -1`) instead of panicking on the failed write: Rust ignores SIGPIPE by default.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::run()
}
