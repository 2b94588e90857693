//! Findings in words: one summary sentence with the numbers, and the fix.
//! Every number comes from the finding's evidence.

mod fix;
pub(crate) mod inner;
pub(crate) mod path;
mod summary;

pub use fix::fix;
pub use summary::summary;

pub(super) fn ep(e: Option<crate::decode::Endpoint>) -> String {
    e.map_or("?".to_string(), |e| e.to_string())
}
