//! Protocol knowledge: what the bytes of a call mean. Today only what the spine needs to
//! answer errors in the caller's own protocol; envelope parsing grows here.

pub mod jsonrpc;
