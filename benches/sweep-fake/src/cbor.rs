//! Just enough CBOR (RFC 8949) for GetMetricData over Smithy RPC v2 CBOR:
//! a generic decoder for the request, and the response encoder.

use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

/// A decoded CBOR item (tags are dropped: tag 1 timestamps become numbers).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(items) => items,
            _ => &[],
        }
    }
}

type Error = minicbor::decode::Error;

pub fn decode(bytes: &[u8]) -> Result<Value, Error> {
    value(&mut Decoder::new(bytes))
}

fn end_of_indefinite(d: &mut Decoder<'_>) -> Result<bool, Error> {
    if d.datatype()? == Type::Break {
        d.set_position(d.position() + 1);
        return Ok(true);
    }
    Ok(false)
}

fn value(d: &mut Decoder<'_>) -> Result<Value, Error> {
    Ok(match d.datatype()? {
        Type::Bool => Value::Bool(d.bool()?),
        Type::Null => {
            d.null()?;
            Value::Null
        }
        Type::Undefined => {
            d.undefined()?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::Num(d.u64()? as f64),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::Num(d.i64()? as f64),
        Type::Int => Value::Num(i128::from(d.int()?) as f64),
        Type::F16 => Value::Num(f64::from(d.f16()?)),
        Type::F32 => Value::Num(f64::from(d.f32()?)),
        Type::F64 => Value::Num(d.f64()?),
        Type::String => Value::Str(d.str()?.to_string()),
        Type::StringIndef => {
            let mut text = String::new();
            for part in d.str_iter()? {
                text.push_str(part?);
            }
            Value::Str(text)
        }
        Type::Bytes => Value::Bytes(d.bytes()?.to_vec()),
        Type::BytesIndef => {
            let mut bytes = Vec::new();
            for part in d.bytes_iter()? {
                bytes.extend_from_slice(part?);
            }
            Value::Bytes(bytes)
        }
        Type::Array | Type::ArrayIndef => {
            let mut items = Vec::new();
            match d.array()? {
                Some(n) => {
                    for _ in 0..n {
                        items.push(value(d)?);
                    }
                }
                None => {
                    while !end_of_indefinite(d)? {
                        items.push(value(d)?);
                    }
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let mut entries = Vec::new();
            let mut entry = |d: &mut Decoder<'_>| -> Result<(), Error> {
                let key = match value(d)? {
                    Value::Str(s) => s,
                    other => format!("{other:?}"),
                };
                entries.push((key, value(d)?));
                Ok(())
            };
            match d.map()? {
                Some(n) => {
                    for _ in 0..n {
                        entry(d)?;
                    }
                }
                None => {
                    while !end_of_indefinite(d)? {
                        entry(d)?;
                    }
                }
            }
            Value::Map(entries)
        }
        Type::Tag => {
            d.tag()?;
            value(d)?
        }
        Type::Simple => {
            d.simple()?;
            Value::Null
        }
        Type::Break | Type::Unknown(_) => {
            return Err(Error::message("unexpected CBOR item"));
        }
    })
}

/// One `MetricDataResult`.
pub struct MetricResult<'a> {
    pub id: &'a str,
    pub label: &'a str,
    /// Epoch seconds.
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// A GetMetricData response body: `MetricDataResults`, timestamps as tag 1.
pub fn metric_data_response(results: &[MetricResult<'_>]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::with_capacity(64 + results.len() * 160));
    let encoded: Result<(), minicbor::encode::Error<std::convert::Infallible>> = (|| {
        e.map(2)?.str("MetricDataResults")?;
        e.array(results.len() as u64)?;
        for r in results {
            e.map(5)?;
            e.str("Id")?.str(r.id)?;
            e.str("Label")?.str(r.label)?;
            e.str("Timestamps")?.array(r.timestamps.len() as u64)?;
            for t in &r.timestamps {
                e.tag(Tag::new(1))?.i64(*t)?;
            }
            e.str("Values")?.array(r.values.len() as u64)?;
            for v in &r.values {
                e.f64(*v)?;
            }
            e.str("StatusCode")?.str("Complete")?;
        }
        e.str("Messages")?.array(0)?;
        Ok(())
    })();
    encoded.expect("encoding into a Vec cannot fail");
    e.into_writer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_decode_back() {
        let body = metric_data_response(&[MetricResult {
            id: "q0",
            label: "Invocations",
            timestamps: vec![86_400],
            values: vec![3.0],
        }]);
        let decoded = decode(&body).unwrap();
        let result = &decoded.get("MetricDataResults").unwrap().items()[0];
        assert_eq!(result.get("Id").and_then(Value::str), Some("q0"));
        assert_eq!(
            result.get("Timestamps").unwrap().items()[0].num(),
            Some(86_400.0)
        );
        assert_eq!(result.get("Values").unwrap().items()[0].num(), Some(3.0));
    }
}
