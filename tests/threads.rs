//! Calls from other threads, and results from worker threads.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;
use gyre::error::ReactorError;

#[test]
fn calls_from_threads_run_in_order_on_the_reactor_thread_and_may_come_before_run() {
    let mut reactor = reactor();
    let remote = reactor.remote();
    let reactor_thread = std::thread::current().id();
    // Queued before run: they wait for the first turn, and run before later ones.
    let (etx, erx) = std::sync::mpsc::channel::<&str>();
    remote
        .call_from_thread(move |_| etx.send("queued before run").unwrap())
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let worker = std::thread::spawn(move || {
        for i in 0..1000u32 {
            remote
                .call_from_thread(move |_| assert_eq!(std::thread::current().id(), reactor_thread))
                .unwrap();
            let tx = tx.clone();
            remote
                .call_from_thread(move |_| tx.send(i).unwrap())
                .unwrap();
        }
        remote.call_from_thread(|r| r.stop().unwrap()).unwrap();
    });
    reactor.run().unwrap();
    worker.join().unwrap();
    let order: Vec<u32> = rx.try_iter().collect();
    assert_eq!(order, (0..1000).collect::<Vec<_>>());
    assert_eq!(erx.try_iter().collect::<Vec<_>>(), ["queued before run"]);
}

#[test]
fn call_from_thread_after_stop_is_an_error() {
    let mut reactor = reactor();
    let remote = reactor.remote();
    reactor.call_when_running(|r| r.stop().unwrap());
    reactor.run().unwrap();
    assert_eq!(
        remote.call_from_thread(|_| {}),
        Err(ReactorError::NotRunning)
    );
}

#[test]
fn remote_stop_wakes_a_sleeping_loop() {
    let mut reactor = reactor();
    let remote = reactor.remote();
    let barrier = Arc::new(Barrier::new(2));
    let b = barrier.clone();
    let stopper = std::thread::spawn(move || {
        b.wait();
        std::thread::sleep(Duration::from_millis(20));
        remote.stop().unwrap();
    });
    reactor.call_when_running(move |_| {
        barrier.wait();
    });
    let start = std::time::Instant::now();
    reactor.run().unwrap(); // no timers, no ports: only the waker can end the sleep
    assert!(start.elapsed() < Duration::from_secs(5));
    stopper.join().unwrap();
}

#[test]
fn reply_from_thread_fires_the_deferred_on_the_loop() {
    let mut reactor = reactor();
    let (answer, reply) = reactor.reply_from_thread::<u64>();
    std::thread::spawn(move || reply.send(Ok((1..=10).sum())))
        .join()
        .unwrap();
    assert!(!answer.is_called()); // not until the loop runs the queued call
    run_until(&mut reactor, CAP, || answer.is_called());
    assert_eq!(answer.take_result().unwrap().unwrap(), 55);

    let (answer, reply) = reactor.reply_from_thread::<u64>();
    std::thread::spawn(move || drop(reply)).join().unwrap();
    run_until(&mut reactor, CAP, || answer.is_called());
    assert!(
        answer
            .take_result()
            .unwrap()
            .unwrap_err()
            .message()
            .contains("without replying")
    );

    let (answer, reply) = reactor.reply_from_thread::<u64>();
    answer.cancel();
    reply.send(Ok(1)); // goes nowhere
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(answer.take_result().unwrap().is_err());
}

#[test]
fn every_call_from_a_thread_that_returned_ok_runs_even_while_the_reactor_stops() {
    use std::sync::atomic::{AtomicU64, Ordering};
    for _ in 0..20 {
        let mut reactor = reactor();
        let remote = reactor.remote();
        let ran = Arc::new(AtomicU64::new(0));
        let counter = ran.clone();
        let worker = std::thread::spawn(move || {
            let mut accepted = 0u64;
            for _ in 0..50_000_000u64 {
                let counter = counter.clone();
                match remote.call_from_thread(move |_| {
                    counter.fetch_add(1, Ordering::Relaxed);
                }) {
                    Ok(()) => accepted += 1,
                    Err(e) => {
                        assert_eq!(e, ReactorError::NotRunning);
                        return accepted;
                    }
                }
            }
            panic!("the reactor never closed its entrance");
        });
        // Stop 2 ms after the first call ran, so the stop always races a busy thread (a
        // fixed delay can pass before a slow machine has even started the thread).
        fn stop_once_busy(r: &mut gyre::Core, ran: Arc<AtomicU64>) {
            if ran.load(Ordering::Relaxed) > 0 {
                r.call_later(Duration::from_millis(2), |r| r.stop().unwrap());
            } else {
                r.call_later(Duration::from_millis(1), move |r| stop_once_busy(r, ran));
            }
        }
        let watched = ran.clone();
        reactor.call_when_running(move |r| stop_once_busy(r, watched));
        reactor.run().unwrap();
        let accepted = worker.join().unwrap();
        assert!(accepted > 0);
        assert_eq!(
            ran.load(Ordering::Relaxed),
            accepted,
            "calls that returned Ok but never ran"
        );
    }
}

#[test]
fn calls_accepted_before_the_reactor_is_dropped_still_run() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let reactor = reactor();
    let remote = reactor.remote();
    let ran = Arc::new(AtomicU64::new(0));
    for _ in 0..10 {
        let ran = ran.clone();
        remote
            .call_from_thread(move |_| {
                ran.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
    }
    drop(reactor); // never ran
    assert_eq!(ran.load(Ordering::Relaxed), 10);
    assert_eq!(
        remote.call_from_thread(|_| {}),
        Err(ReactorError::NotRunning)
    );
}
