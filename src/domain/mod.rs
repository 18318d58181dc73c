//! Types and rules of the product, without I/O.

pub mod audit;
pub mod contact;
pub mod credential;
pub mod drop;
pub mod event;
pub mod kind;
pub mod net;
pub mod number;
pub mod profile;
pub mod release;
pub mod role;
pub mod text;
pub mod verification;
pub mod webhook;
