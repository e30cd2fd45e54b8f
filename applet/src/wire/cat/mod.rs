//! Card Application Toolkit (ETSI TS 102 223, 3GPP TS 31.111).
//!
//! | module | content | spec |
//! | --- | --- | --- |
//! | [`codes`] | open newtypes: type of command, qualifiers, device ids, results, events | TS 102 223 §8.6–§8.25, §9.4 |
//! | [`ies`] | data objects (COMPREHENSION-TLVs) as `Repr` structs | TS 102 223 §8, TS 31.111 §8 |
//!
//! Byte-level facts: `/work/shared/spec/02-cat.md`.

pub mod codes;
pub mod ies;

pub use codes::*;
pub use ies::*;
pub mod command;

pub use command::*;
pub mod envelope;
pub mod response;

pub use envelope::*;
pub use response::*;
