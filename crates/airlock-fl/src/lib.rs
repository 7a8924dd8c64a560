//! Federated learning: sites keep their rows and send model updates; the coordinator learns
//! only their sum ([`secagg`]).
//!
//! Never prints.

#![forbid(unsafe_code, unused_must_use)]

pub mod fedavg;
pub mod local;
pub mod round;
pub mod secagg;
pub mod sitedrift;
