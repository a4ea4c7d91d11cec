//! Types, dimensions and units.

use rust_decimal::Decimal;
use std::fmt;

/// The physical dimension of a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Money,
    Distance,
    Weight,
    Duration,
    Percent,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::Money => "money",
            Dim::Distance => "distance",
            Dim::Weight => "weight",
            Dim::Duration => "duration",
            Dim::Percent => "percent",
        }
    }

    /// The unit a suggestion uses ("write `50 km`"); money uses the ruleset's currency.
    pub fn suggested_unit(self, currency: Option<&str>) -> String {
        match self {
            Dim::Money => currency.unwrap_or("USD").to_string(),
            Dim::Distance => "km".to_string(),
            Dim::Weight => "kg".to_string(),
            Dim::Duration => "h".to_string(),
            Dim::Percent => "%".to_string(),
        }
    }
}

/// Index of an enum in the model's enum list (built-in enums come first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnumId(pub u32);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Number,
    String,
    Location,
    /// The candidate node itself, as `distance(node, …)` and `available(node, …)` take it.
    Node,
    /// A calendar day: `node.ship_date`, `order.promised_by`.
    Date,
    Quantity(Dim),
    /// Money per unit of a dimension: `0.35 USD/kg`.
    Rate(Dim),
    Enum(EnumId),
    Set(Box<Type>),
    /// The type of an expression that already has an error: compatible with anything,
    /// so one mistake is reported once.
    Error,
}

impl Type {
    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Number)
    }

    pub fn is_error(&self) -> bool {
        match self {
            Type::Error => true,
            Type::Set(element) => element.is_error(),
            _ => false,
        }
    }

    /// Whether values of the two types can be compared or mixed (int with number,
    /// anything with an error).
    pub fn compatible(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Error, _) | (_, Type::Error) => true,
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (Type::Set(a), Type::Set(b)) => a.compatible(b),
            (a, b) => a == b,
        }
    }

    /// The common type of two compatible types (int and number give number).
    pub fn join(&self, other: &Type) -> Type {
        match (self, other) {
            (Type::Error, t) | (t, Type::Error) => t.clone(),
            (Type::Int, Type::Number) | (Type::Number, Type::Int) => Type::Number,
            (Type::Set(a), Type::Set(b)) => Type::Set(Box::new(a.join(b))),
            (a, _) => a.clone(),
        }
    }
}

/// Displays a type with enum names resolved.
pub struct TypeDisplay<'a> {
    pub ty: &'a Type,
    pub enum_names: &'a [String],
}

impl fmt::Display for TypeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ty {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Number => f.write_str("number"),
            Type::String => f.write_str("string"),
            Type::Location => f.write_str("location"),
            Type::Node => f.write_str("node"),
            Type::Date => f.write_str("date"),
            Type::Quantity(dim) => f.write_str(dim.name()),
            Type::Rate(dim) => write!(f, "money per {}", dim.name()),
            Type::Enum(id) => f.write_str(self.enum_names.get(id.0 as usize).map_or("enum", |s| s)),
            Type::Set(element) => write!(
                f,
                "set<{}>",
                TypeDisplay {
                    ty: element,
                    enum_names: self.enum_names
                }
            ),
            Type::Error => f.write_str("unknown"),
        }
    }
}

/// A unit of measure and its factor to the dimension's canonical unit
/// (km, kg, minutes, a fraction for percent, the currency itself for money).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub dim: Dim,
    pub factor: Decimal,
}

/// Units other than currencies, with their exact factors.
pub fn unit_named(name: &str) -> Option<Unit> {
    let (dim, factor) = match name {
        "km" => (Dim::Distance, Decimal::ONE),
        // 1 mi = 1.609344 km and 1 lb = 0.45359237 kg, by definition.
        "mi" => (Dim::Distance, Decimal::new(1_609_344, 6)),
        "kg" => (Dim::Weight, Decimal::ONE),
        "g" => (Dim::Weight, Decimal::new(1, 3)),
        "lb" => (Dim::Weight, Decimal::new(45_359_237, 8)),
        "oz" => (Dim::Weight, Decimal::new(28_349_523_125, 12)),
        "min" | "minutes" => (Dim::Duration, Decimal::ONE),
        "h" | "hour" | "hours" => (Dim::Duration, Decimal::from(60)),
        "day" | "days" => (Dim::Duration, Decimal::from(1440)),
        "%" => (Dim::Percent, Decimal::new(1, 2)),
        _ => return None,
    };
    Some(Unit { dim, factor })
}

/// Every unit name, for suggestions and completion.
pub const UNIT_NAMES: &[&str] = &[
    "km", "mi", "kg", "g", "lb", "oz", "min", "minutes", "h", "hour", "hours", "day", "days", "%",
];

/// ISO 4217 codes accepted as currencies.
pub const CURRENCIES: &[&str] = &[
    "AED", "ARS", "AUD", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK", "EUR", "GBP",
    "HKD", "HUF", "IDR", "ILS", "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PEN", "PHP",
    "PLN", "RON", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "VND", "ZAR",
];

pub fn is_currency(name: &str) -> bool {
    CURRENCIES.contains(&name)
}
