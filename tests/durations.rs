//! Durations too long for the clock (`Duration::MAX`) mean "never" wherever a delay is taken:
//! nothing panics, the call stays pending and cancellable, and the reactor goes on.

use std::cell::Cell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use gyre::prelude::*;
use gyre::{Core, Resolver};

/// A resolver that never answers.
struct Silent;

impl Resolver for Silent {
    fn resolve(&self, _: &str, _: &mut Core) -> Deferred<Vec<IpAddr>> {
        Deferred::new()
    }
}

#[test]
fn every_api_taking_a_delay_saturates_to_never() {
    let clock = ManualClock::new();
    let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
    reactor.install_signal_handlers(false);
    let never = reactor.call_later(Duration::MAX, |_| unreachable!());
    let from_handle = reactor
        .handle()
        .call_later(Duration::MAX, |_| unreachable!());
    let reset = reactor.call_later(Duration::from_secs(1), |_| unreachable!());
    reset.reset(Duration::MAX).unwrap();
    let delayed = reactor.call_later(Duration::from_secs(1), |_| unreachable!());
    delayed.delay(Duration::MAX).unwrap();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let looping = LoopingCall::new(reactor.timers(), move || {
        t.set(t.get() + 1);
        Ok::<(), Failure>(())
    });
    looping.start(Duration::MAX, true).unwrap(); // runs now, then never again
    let late = defer_later(reactor.timers(), Duration::MAX, || Ok::<u8, Failure>(1));
    let waiting = Deferred::<u8>::new();
    waiting.add_timeout(Duration::MAX, reactor.timers());
    reactor.set_resolver(Silent);
    reactor.set_resolve_timeout(Duration::MAX);
    let lookup = reactor.resolve("slow.example");
    // A century on the manual clock: nothing fires, the loop turns as usual.
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    reactor.call_later(Duration::ZERO, move |_| r.set(true));
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(ran.get());
    assert_eq!(ticks.get(), 1);
    assert!(!late.is_called() && !waiting.is_called() && !lookup.is_called());
    for call in [&never, &from_handle, &reset, &delayed] {
        assert!(call.active());
        assert!(call.time().unwrap() > reactor.now());
    }
    never.cancel().unwrap();
    assert!(!never.active());
    looping.stop().unwrap();
    late.cancel();
    assert!(late.take_result().unwrap().is_err());
    // Waiting as long as the caller likes is fine too when there is work to do.
    reactor.call_soon(|_| {});
    reactor.iterate(Duration::MAX).unwrap();
}
