//! Types and rules of the product, without I/O.

pub mod audit;
pub mod role;
