//! The `zkinfer` command-line tool.

mod cli;

fn main() -> std::process::ExitCode {
    // The default build's field arithmetic is x86-64 assembly of two ISA extensions (the
    // `asm` feature): a CPU without them would die on an illegal instruction mid-proof.
    #[cfg(all(feature = "asm", target_arch = "x86_64"))]
    if !(std::arch::is_x86_feature_detected!("bmi2") && std::arch::is_x86_feature_detected!("adx"))
    {
        eprintln!(
            "error: this zkinfer build does its field arithmetic in x86-64 assembly that needs \
             the BMI2 and ADX instructions, which this CPU lacks; build the portable version \
             with `cargo build --release --no-default-features`"
        );
        return std::process::ExitCode::from(1);
    }
    // Like other Unix tools, end quietly when a reader closes the pipe (`zkinfer verify … | head
    // -1`) instead of panicking on the failed write: Rust ignores SIGPIPE by default.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    #[cfg(unix)]
    on_interrupt_remove_partial_files();
    cli::run()
}

/// SIGINT, SIGTERM and SIGHUP are blocked in every thread (the mask is inherited) and taken
/// by one thread that removes the temp files being written and exits with 128 + the signal:
/// an interrupted `setup` or `prove` leaves earlier outputs as they were and no partial file.
#[cfg(unix)]
fn on_interrupt_remove_partial_files() {
    // SAFETY: plain libc calls on a local, zero-initialised signal set, made before any other
    // thread exists; the waiting thread only calls sigwait on that set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        std::thread::spawn(move || {
            let mut sig: libc::c_int = 0;
            if libc::sigwait(&set, &mut sig) == 0 {
                zkinfer::artifact::remove_in_flight();
                eprintln!("interrupted: no partial output file left");
                std::process::exit(128 + sig);
            }
        });
    }
}
