//! A publisher and a subscriber on one ring, in one process: creates a
//! private bus (no hermesd needed), publishes zero-copy, reads in place.
//!   cargo run --example pubsub
use hermes::bus::{Bus, Policy, RingConfig, Start, WaitMode};
use std::time::Duration;

fn main() -> Result<(), hermes::Error> {
    let name = format!("rust-example-{}", std::process::id());
    let bus = Bus::create(&name, 16 << 20, 0o600)?;
    bus.create_ring(&RingConfig { name: "orders", capacity: 1 << 16, max_msg: 1024, policy: Policy::Block, slots: 0 })?;
    let mut sub = bus.subscriber("orders", Start::Latest)?;

    std::thread::scope(|s| {
        s.spawn(|| -> Result<(), hermes::Error> {
            let mut publisher = bus.publisher("orders")?;
            for i in 0..5u32 {
                let text = format!("order {}", i);
                let mut claim = publisher.claim(text.len())?; // room in the ring
                claim.copy_from_slice(text.as_bytes()); // written in place
                claim.commit()?; // dropped without commit: aborted
            }
            Ok(())
        });
        let mut seen = 0;
        while seen < 5 && sub.wait(WaitMode::Block, Some(Duration::from_secs(5)))? {
            while let Some(msg) = sub.poll()? {
                println!("{}: {}", msg.seq, String::from_utf8_lossy(msg.data)); // zero copy
                seen += 1;
            }
            sub.release()?; // the ring may reuse the space now
        }
        Ok::<(), hermes::Error>(())
    })?;
    drop(sub);
    drop(bus);
    Bus::unlink(&name)
}
