//! pip support: the pure parsing and decision logic lockgate needs to guard `pip install`
//! (command-line classification, requirements files, PEP 751 lock files, PEP 508 markers,
//! PEP 440 versions, simple-index pages and wheel selection). No network and no processes
//! here; the only I/O is `requirements::load`, which reads the files a requirements file
//! includes.

pub mod classify;
pub mod index;
pub mod markers;
pub mod name;
mod options;
pub mod pylock;
pub mod requirements;
pub mod version;
pub mod wheel;
