//! Runtime values. Every quantity is an `f64` in its canonical unit; strings and sets
//! are shared, so copying a value never copies its contents.

use allot_plan::Literal;
use std::sync::Arc;

/// A place on Earth, with the fields policies can read.
#[derive(Clone, Debug, PartialEq)]
pub struct Geo {
    pub lat: f64,
    pub lon: f64,
    pub country: Arc<str>,
    pub region: Arc<str>,
    pub postal_code: Arc<str>,
}

/// The mean Earth radius the distances use.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

impl Geo {
    /// Great-circle distance in km on the sphere of mean Earth radius 6371.0088 km (the
    /// haversine distance, computed as [`chord_km`]).
    pub fn distance_km(&self, other: &Geo) -> f64 {
        chord_km(&self.unit_vector(), &other.unit_vector())
    }

    /// The point on the unit sphere, for [`Radius::clearly_beyond`].
    pub fn unit_vector(&self) -> [f64; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }
}

/// The great-circle distance in km between two points given as [`Geo::unit_vector`]s:
/// a chord of length c spans an arc of 2R·asin(c / 2) (the haversine formula, without
/// trigonometry when the unit vectors are known).
pub fn chord_km(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    2.0 * EARTH_RADIUS_KM * (chord2(a, b).sqrt() / 2.0).min(1.0).asin()
}

/// The square of the chord between two points on the unit sphere.
fn chord2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    (0..3).map(|i| (a[i] - b[i]) * (a[i] - b[i])).sum()
}

/// A distance, with the chord that tells on the unit sphere when two points are certainly
/// farther apart, without trigonometry: a great circle of length d spans a chord of
/// 2·sin(d / 2R). The margin (a millionth of the chord, under a metre at 300 km) leaves
/// every close call to the haversine.
#[derive(Clone, Copy, Debug)]
pub struct Radius {
    pub km: f64,
    /// The square of the chord beyond which points are farther than `km`.
    beyond_chord2: f64,
}

impl Radius {
    pub fn new(km: f64) -> Radius {
        let chord =
            2.0 * (km.min(std::f64::consts::PI * EARTH_RADIUS_KM) / (2.0 * EARTH_RADIUS_KM)).sin();
        Radius {
            km,
            beyond_chord2: (chord * (1.0 + 1e-6)).powi(2),
        }
    }

    /// Whether two points (as [`Geo::unit_vector`]s) are certainly farther apart than
    /// the radius.
    pub fn clearly_beyond(&self, a: &[f64; 3], b: &[f64; 3]) -> bool {
        chord2(a, b) > self.beyond_chord2
    }
}

/// Which location a value refers to: resolved against the evaluation context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    ShipTo,
    Node(u32),
}

#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Bool(bool),
    Num(f64),
    Str(Arc<str>),
    Enum(u32),
    Set(Arc<[V]>),
    Place(Place),
    /// The candidate node (as `distance(node, …)` and `available(node, …)` take it).
    Node(u32),
}

impl V {
    pub fn from_literal(literal: &Literal) -> V {
        match literal {
            Literal::Bool(b) => V::Bool(*b),
            Literal::Num(n) => V::Num(*n),
            Literal::Str(s) => V::Str(Arc::from(s.as_str())),
            Literal::Enum(_, variant) => V::Enum(*variant),
            Literal::Set(items) => V::Set(items.iter().map(V::from_literal).collect()),
        }
    }

    pub fn as_bool(&self) -> bool {
        matches!(self, V::Bool(true))
    }

    pub fn as_num(&self) -> f64 {
        match self {
            V::Num(n) => *n,
            _ => f64::NAN,
        }
    }

    /// Equality as the language defines it.
    pub fn same(&self, other: &V) -> bool {
        match (self, other) {
            (V::Num(a), V::Num(b)) => a == b,
            (V::Str(a), V::Str(b)) => a == b,
            (a, b) => a == b,
        }
    }
}
