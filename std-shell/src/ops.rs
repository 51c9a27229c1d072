//! What operators see of a running veil: logs on stderr ([`logs`]), the
//! metrics page ([`metrics`]) and the health probe ([`endpoint`]).

pub mod endpoint;
pub mod logs;
pub mod metrics;
