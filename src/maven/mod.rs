//! Maven support: the checksum lock (`.mvn/checksums/checksums.sha256`), repository paths and
//! their coordinates, mvn command-line classification, settings.xml reading and rendering, and
//! local-repository/URL layout. Everything here is pure; the Maven flow does the I/O.

pub mod classify;
pub mod coords;
pub mod layout;
pub mod lock;
pub mod settings;
mod xml;
