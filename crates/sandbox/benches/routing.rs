//! Prints the sandbox's routing rate: device-to-cloud messages evaluated against a hub's routes
//! (one storage endpoint and route per data stream, and the route to the built-in endpoint) and
//! encoded into their streams' files as IoT Hub writes them, per second. The peer, measured in
//! the same run, is the least any router must do per message: parsing its JSON body.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p hubsetup-sandbox --bench routing`).

use std::time::Instant;

const MESSAGES: usize = 200_000;
const STREAMS: usize = 8;

fn main() {
    let peer = best_of(3, || {
        let started = Instant::now();
        let mut parsed = 0usize;
        for n in 0..MESSAGES {
            let body = format!("{{\"temperature\":{},\"seq\":{n}}}", 20 + n % 10);
            parsed += usize::from(serde_json::from_str::<serde_json::Value>(&body).is_ok());
        }
        assert_eq!(parsed, MESSAGES);
        started.elapsed().as_secs_f64()
    });
    for (avro, format) in [(false, "JSON lines"), (true, "Avro")] {
        let seconds = best_of(3, || {
            let started = Instant::now();
            let (stored, bytes) = hubsetup_sandbox::bench_route(MESSAGES, STREAMS, avro);
            assert_eq!(stored, MESSAGES);
            assert!(bytes > MESSAGES * 50);
            started.elapsed().as_secs_f64()
        });
        println!(
            "sandbox routing, {STREAMS} streams to storage ({format}) + the built-in route: {:.0} messages/s ({:.2} s for {MESSAGES}) ÷ parsing the bodies alone {:.0}/s = {:.2} of its rate",
            MESSAGES as f64 / seconds,
            seconds,
            MESSAGES as f64 / peer,
            peer / seconds
        );
    }
}

fn best_of(runs: usize, mut run: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| run()).fold(f64::INFINITY, f64::min)
}
