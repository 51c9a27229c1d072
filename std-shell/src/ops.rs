//! What operators see of a running veil and how they set it up: logs on
//! stderr ([`logs`]), the metrics page ([`metrics`]), the health probe
//! ([`endpoint`]), `.env` files ([`envfile`]) and `--config` files
//! ([`config_file`]).

pub mod config_file;
pub mod endpoint;
pub mod envfile;
pub mod logs;
pub mod metrics;
