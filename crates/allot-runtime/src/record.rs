//! Reading JSON records field by field, with errors that name the record and field.

use crate::value::{Geo, V};
use allot_plan::{EnumInfo, Literal, ValueType};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// Bad input data: which record, which field, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    /// `nodes[3] "DC-NJ"`, `order "A-1001" lines[0] "1"`.
    pub record: String,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: field `{field}`: {}", self.record, self.message),
            None => write!(f, "{}: {}", self.record, self.message),
        }
    }
}

impl std::error::Error for DataError {}

pub(crate) fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// Far beyond any real stock or quantity; keeps every sum of them exact and in range.
pub(crate) const INTEGER_LIMIT: i64 = 1_000_000_000_000;

/// One JSON object being read.
pub(crate) struct Record<'a> {
    pub name: String,
    pub object: &'a Map<String, Value>,
}

impl<'a> Record<'a> {
    pub fn new(name: String, value: &'a Value) -> Result<Record<'a>, DataError> {
        match value.as_object() {
            Some(object) => Ok(Record { name, object }),
            None => Err(DataError {
                record: name,
                field: None,
                message: format!("expected an object, found {}", describe(value)),
            }),
        }
    }

    pub fn error(&self, field: &str, message: impl Into<String>) -> DataError {
        DataError {
            record: self.name.clone(),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    fn wrong(&self, field: &str, expected: &str, found: &Value) -> DataError {
        self.error(
            field,
            format!("expected {expected}, found {}", describe(found)),
        )
    }

    pub fn string(&self, field: &str) -> Result<Option<&'a str>, DataError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(field, "a string", other)),
        }
    }

    pub fn required_string(&self, field: &str) -> Result<&'a str, DataError> {
        match self.string(field)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(self.error(field, "must not be empty")),
            None => Err(self.error(field, "is missing")),
        }
    }

    pub fn number(&self, field: &str) -> Result<Option<f64>, DataError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|n| n.is_finite())
                .map(Some)
                .ok_or_else(|| self.wrong(field, "a number", v)),
        }
    }

    /// A number in `min..=max`.
    pub fn number_in(
        &self,
        field: &str,
        min: f64,
        max: f64,
        default: Option<f64>,
    ) -> Result<f64, DataError> {
        let n = match (self.number(field)?, default) {
            (Some(n), _) => n,
            (None, Some(d)) => return Ok(d),
            (None, None) => return Err(self.error(field, "is missing")),
        };
        if n < min || n > max {
            let range = if max == f64::INFINITY {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            return Err(self.error(field, format!("must be {range}, not {n}")));
        }
        Ok(n)
    }

    pub fn integer(&self, field: &str, min: i64, default: Option<i64>) -> Result<i64, DataError> {
        let value = match (self.get(field), default) {
            (Some(v), _) => v,
            (None, Some(d)) => return Ok(d),
            (None, None) => return Err(self.error(field, "is missing")),
        };
        let n = value
            .as_i64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| self.wrong(field, "a whole number", value))?;
        if n < min {
            return Err(self.error(field, format!("must be at least {min}, not {n}")));
        }
        if n.abs() > INTEGER_LIMIT {
            return Err(self.error(
                field,
                format!("{n} is beyond the supported ±{INTEGER_LIMIT}"),
            ));
        }
        Ok(n)
    }

    pub fn boolean(&self, field: &str, default: bool) -> Result<bool, DataError> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong(field, "true or false", other)),
        }
    }

    pub fn array(&self, field: &str) -> Result<Option<&'a Vec<Value>>, DataError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong(field, "a list", other)),
        }
    }

    pub fn strings(&self, field: &str) -> Result<Arc<[V]>, DataError> {
        let Some(items) = self.array(field)? else {
            return Ok(Arc::from([]));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(V::Str(Arc::from(s.as_str()))),
                other => Err(self.wrong(field, "a list of strings", other)),
            })
            .collect()
    }

    pub fn object(&self, field: &str) -> Result<Option<Record<'a>>, DataError> {
        match self.get(field) {
            None => Ok(None),
            Some(value @ Value::Object(_)) => {
                Ok(Some(Record::new(format!("{} {field}", self.name), value)?))
            }
            Some(other) => Err(self.wrong(field, "an object", other)),
        }
    }

    /// A location: `lat`, `lon`, `country`, `region`, `postal_code`.
    pub fn geo(&self) -> Result<Geo, DataError> {
        Ok(Geo {
            lat: self.number_in("lat", -90.0, 90.0, None)?,
            lon: self.number_in("lon", -180.0, 180.0, None)?,
            country: Arc::from(self.string("country")?.unwrap_or("")),
            region: Arc::from(self.string("region")?.unwrap_or("")),
            postal_code: Arc::from(self.string("postal_code")?.unwrap_or("")),
        })
    }
}

/// A schema attribute's value from data, checked against its declared type.
/// Units in data: distances km, weights kg, durations hours, percentages as 0–100.
pub(crate) fn attribute_value(
    record: &Record,
    field: &str,
    value: &Value,
    ty: &ValueType,
    enums: &[EnumInfo],
) -> Result<V, DataError> {
    let wrong = || {
        record.error(
            field,
            format!("expected {}, found {}", ty.describe(enums), describe(value)),
        )
    };
    Ok(match ty {
        ValueType::Bool => V::Bool(value.as_bool().ok_or_else(wrong)?),
        ValueType::Int => {
            let n = value
                .as_f64()
                .filter(|f| f.fract() == 0.0)
                .ok_or_else(wrong)?;
            V::Num(n)
        }
        ValueType::Number | ValueType::Money | ValueType::Distance | ValueType::Weight => {
            V::Num(value.as_f64().ok_or_else(wrong)?)
        }
        ValueType::Duration => V::Num(value.as_f64().ok_or_else(wrong)? * 60.0),
        ValueType::Percent => V::Num(value.as_f64().ok_or_else(wrong)? / 100.0),
        ValueType::String => V::Str(Arc::from(value.as_str().ok_or_else(wrong)?)),
        ValueType::Enum(id) => {
            let name = value.as_str().ok_or_else(wrong)?;
            let variants = enums
                .get(*id as usize)
                .map(|e| e.variants.as_slice())
                .unwrap_or(&[]);
            V::Enum(variants.iter().position(|v| v == name).ok_or_else(wrong)? as u32)
        }
        ValueType::Set(element) => {
            let items = value.as_array().ok_or_else(wrong)?;
            V::Set(
                items
                    .iter()
                    .map(|i| attribute_value(record, field, i, element, enums))
                    .collect::<Result<_, _>>()?,
            )
        }
        // Locations as custom attributes are not supported in data yet: a string says so.
        ValueType::Location => {
            return Err(record.error(field, "location attributes cannot be given in data"));
        }
    })
}

/// The custom attributes of one owner, in plan order, with defaults for missing ones.
pub(crate) fn custom_attributes(
    record: &Record,
    declared: &[(usize, &allot_plan::AttributeInfo)],
    enums: &[EnumInfo],
) -> Result<Vec<V>, DataError> {
    let given = record.object("attributes")?;
    declared
        .iter()
        .map(|(_, info)| {
            match given
                .as_ref()
                .and_then(|g| g.object.get(&info.name))
                .filter(|v| !v.is_null())
            {
                Some(value) => {
                    let inner = given.as_ref().expect("given");
                    attribute_value(inner, &info.name, value, &info.ty, enums)
                }
                None => Ok(default_value(&info.default)),
            }
        })
        .collect()
}

pub(crate) fn default_value(literal: &Literal) -> V {
    V::from_literal(literal)
}
