//! Ctrl-C: the first SIGINT (or SIGTERM) asks the engine to stop, so the results gathered so far
//! are still written; a second one exits at once with status 130.

use jouletrace::engine::CancelToken;
use signal_hook::consts::{SIGINT, SIGTERM};

pub fn cancel_on_interrupt(token: &CancelToken) -> std::io::Result<()> {
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_shutdown(signal, 130, token.flag())?;
        signal_hook::flag::register(signal, token.flag())?;
    }
    Ok(())
}
