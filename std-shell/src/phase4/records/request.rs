//! A variation a validator asks for: MIID's `VariationRequest`, as the
//! validator sends it and the results record it.

use serde::{Deserialize, Serialize};

/// One variation a validator asks for: MIID's `VariationRequest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedVariation {
    /// A base type or a `+`-joined combination.
    #[serde(rename = "type")]
    pub kind: String,
    /// One intensity, or one per part `+`-joined.
    pub intensity: String,
    /// What to do, for a model.
    #[serde(default)]
    pub description: String,
    /// How far to go, for a model.
    #[serde(default)]
    pub detail: String,
}

impl RequestedVariation {
    /// The request as sent: its detail followed by MIID's composition
    /// requirements.
    pub fn wire_detail(&self) -> String {
        format!(
            "{}. {}",
            self.detail,
            crate::phase4::validator::IMAGE_VARIATION_REQUIREMENTS
        )
    }
}
