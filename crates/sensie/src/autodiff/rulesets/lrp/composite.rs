//! Composites: which rule each layer gets. The "first layer" is the Conv or
//! Gemm that reads the model's input (the first on the path from it).

use crate::Error;

/// An LRP composite, named as on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Composite {
    /// The epsilon rule on every layer.
    Epsilon,
    /// Flat on the first layer, z+ on the other Convs, epsilon on Gemm and
    /// MatMul (zennit's `EpsilonPlusFlat`).
    EpsilonPlusFlat,
    /// z^B on the first layer, gamma on the other Convs, epsilon on Gemm and
    /// MatMul (zennit's `EpsilonGammaBox`).
    EpsilonGammaBox,
    /// Alpha-beta with alpha 1, beta 0 (the z+ rule) on every layer.
    Alpha1Beta0,
}

/// The rules a layer can get.
pub(super) enum LayerRule {
    Epsilon,
    ZPlus,
    Gamma,
    Flat,
    ZBox,
}

impl Composite {
    /// The composites' names as the command line and configs spell them.
    pub const NAMES: &'static [&'static str] = &[
        "epsilon",
        "epsilon-plus-flat",
        "epsilon-gamma-box",
        "alpha1-beta0",
    ];

    /// Whether a layer gets the z^B rule, the only one that reads the box
    /// of input bounds: the others take any box, a constant image's too.
    pub fn uses_box(self) -> bool {
        self == Composite::EpsilonGammaBox
    }

    /// The rule for a layer: a Conv or not (Gemm, MatMul), the first or not.
    pub(super) fn rule(self, conv: bool, first: bool) -> LayerRule {
        match (self, conv, first) {
            (Composite::Epsilon, _, _) => LayerRule::Epsilon,
            (Composite::Alpha1Beta0, _, _) => LayerRule::ZPlus,
            (Composite::EpsilonPlusFlat, _, true) => LayerRule::Flat,
            (Composite::EpsilonGammaBox, _, true) => LayerRule::ZBox,
            (Composite::EpsilonPlusFlat, true, false) => LayerRule::ZPlus,
            (Composite::EpsilonGammaBox, true, false) => LayerRule::Gamma,
            (_, false, false) => LayerRule::Epsilon,
        }
    }
}

impl std::str::FromStr for Composite {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "epsilon" => Ok(Composite::Epsilon),
            "epsilon-plus-flat" => Ok(Composite::EpsilonPlusFlat),
            "epsilon-gamma-box" => Ok(Composite::EpsilonGammaBox),
            "alpha1-beta0" => Ok(Composite::Alpha1Beta0),
            other => Err(Error::unknown(
                "LRP composite",
                other,
                Composite::NAMES.iter().copied(),
            )),
        }
    }
}

impl std::fmt::Display for Composite {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Composite::Epsilon => "epsilon",
            Composite::EpsilonPlusFlat => "epsilon-plus-flat",
            Composite::EpsilonGammaBox => "epsilon-gamma-box",
            Composite::Alpha1Beta0 => "alpha1-beta0",
        })
    }
}
