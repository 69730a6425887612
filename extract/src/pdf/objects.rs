//! Reading lopdf objects the way a PDF reader must: references followed,
//! numbers whether written as integers or reals, streams inflated.

use lopdf::{Dictionary, Document, Object};

/// The object itself, a reference followed.
pub fn resolve<'a>(document: &'a Document, object: &'a Object) -> Option<&'a Object> {
    document.dereference(object).ok().map(|(_, object)| object)
}

/// A dictionary's entry, a reference followed.
pub fn entry<'a>(
    document: &'a Document,
    dictionary: &'a Dictionary,
    key: &[u8],
) -> Option<&'a Object> {
    dictionary
        .get(key)
        .ok()
        .and_then(|object| resolve(document, object))
}

/// A dictionary's entry that is a name.
pub fn name<'a>(
    document: &'a Document,
    dictionary: &'a Dictionary,
    key: &[u8],
) -> Option<&'a [u8]> {
    entry(document, dictionary, key).and_then(|object| object.as_name().ok())
}

/// A number, written as an integer or a real.
pub fn number(object: &Object) -> Option<f64> {
    match object {
        Object::Integer(value) => Some(*value as f64),
        Object::Real(value) => Some(f64::from(*value)),
        _ => None,
    }
}

/// A stream's bytes, its filters undone.
pub fn stream_bytes(document: &Document, object: &Object) -> Option<Vec<u8>> {
    let stream = resolve(document, object)?.as_stream().ok()?;
    stream.get_plain_content().ok()
}
