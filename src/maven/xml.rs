//! A small element tree over quick-xml for the Maven XML files lockgate reads (settings.xml).
//!
//! Elements are known by their local name: namespace prefixes and `xmlns` attributes are
//! ignored, as Maven's own (namespace-unaware) readers ignore them. Text gathers character data,
//! CDATA sections, character references and the five predefined entities; comments, processing
//! instructions, the XML declaration and a DOCTYPE are skipped. Any other entity is an error
//! (there is no DTD processing). Attributes are not kept: Maven's formats put data in elements.
//! [`Element::write`] renders a tree back (the settings a guarded run carries over).

use std::borrow::Cow;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// The element's own character data, untrimmed.
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child called `name` (Maven trims values).
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Appends the element as indented XML: a leaf with its escaped text, an element with
    /// children without its (whitespace) text — Maven's formats have no mixed content.
    pub fn write(&self, out: &mut String, indent: usize) {
        let pad = "  ".repeat(indent);
        if self.children.is_empty() {
            let text = quick_xml::escape::escape(self.text.trim());
            out.push_str(&format!("{pad}<{0}>{text}</{0}>\n", self.name));
            return;
        }
        out.push_str(&format!("{pad}<{}>\n", self.name));
        for child in &self.children {
            child.write(out, indent + 1);
        }
        out.push_str(&format!("{pad}</{}>\n", self.name));
    }
}

/// Malformed XML, with the 1-based line where the reader stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct XmlError {
    pub line: usize,
    pub what: String,
}

/// Parses a document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut tree = Tree::default();
    loop {
        let (step, offset) = match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(event) => (tree.feed(event), reader.buffer_position()),
            Err(e) => (Err(e.to_string()), reader.error_position()),
        };
        step.map_err(|what| XmlError {
            line: line_at(text, offset),
            what,
        })?;
    }
    tree.finish().map_err(|what| XmlError {
        line: line_at(text, u64::MAX),
        what,
    })
}

fn line_at(text: &str, offset: u64) -> usize {
    let end = usize::try_from(offset).map_or(text.len(), |o| o.min(text.len()));
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Elements being read and the finished root.
#[derive(Default)]
struct Tree {
    open: Vec<Element>,
    root: Option<Element>,
}

impl Tree {
    fn feed(&mut self, event: Event<'_>) -> Result<(), String> {
        let chars: Cow<'_, str> = match event {
            Event::Start(start) => {
                self.open.push(element(&start)?);
                return Ok(());
            }
            Event::Empty(start) => return self.close(element(&start)?),
            Event::End(_) => {
                // quick-xml has checked that the end tag matches the open one.
                let done = self.open.pop().ok_or("unexpected end tag")?;
                return self.close(done);
            }
            Event::Text(t) => t.xml10_content().map_err(|e| e.to_string())?,
            Event::CData(c) => c.xml10_content().map_err(|e| e.to_string())?,
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(|e| e.to_string())? {
                Some(c) => c.to_string().into(),
                None => {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    let value = resolve_predefined_entity(&name);
                    value
                        .ok_or_else(|| format!("unknown entity `&{name};`"))?
                        .into()
                }
            },
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {
                return Ok(());
            }
            Event::Eof => return Ok(()),
        };
        match self.open.last_mut() {
            Some(current) => current.text.push_str(&chars),
            None if chars.trim().is_empty() => {}
            None => return Err("text outside the root element".into()),
        }
        Ok(())
    }

    /// Attaches a finished element to its parent, or makes it the root.
    fn close(&mut self, done: Element) -> Result<(), String> {
        match self.open.last_mut() {
            Some(parent) => parent.children.push(done),
            None if self.root.is_none() => self.root = Some(done),
            None => return Err(format!("a second root element <{}>", done.name)),
        }
        Ok(())
    }

    fn finish(self) -> Result<Element, String> {
        if let Some(unclosed) = self.open.last() {
            return Err(format!("<{}> is not closed", unclosed.name));
        }
        self.root
            .ok_or_else(|| "the document has no root element".to_string())
    }
}

fn element(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = std::str::from_utf8(start.local_name().into_inner())
        .map_err(|e| format!("element name is not UTF-8: {e}"))?;
    Ok(Element {
        name: name.to_string(),
        ..Element::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_text_entities_cdata_and_skips_the_rest() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE settings>
<!-- a <comment> with markup -->
<s:settings xmlns:s="http://maven.apache.org/SETTINGS/1.0.0" a=">">
  <?pi whatever?>
  <s:one>a &amp; b &lt;c&gt; &#x41;&#66; &quot;&apos;</s:one>
  <two><![CDATA[<not-a-tag> & ${env.X}]]></two>
  <empty/>
  <two>second</two>
</s:settings>
"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "settings");
        assert_eq!(root.child_text("one"), Some("a & b <c> AB \"'"));
        assert_eq!(root.child_text("two"), Some("<not-a-tag> & ${env.X}"));
        assert_eq!(root.child_text("empty"), Some(""));
        assert_eq!(root.children_named("two").count(), 2);
        assert_eq!(root.child("missing"), None);
    }

    #[test]
    fn written_trees_read_back_the_same() {
        let doc = "<settings><profiles>\n <profile><id>ci</id><properties><x>a &amp; b</x>\
                   <cdata><![CDATA[<y>]]></cdata></properties></profile></profiles></settings>";
        let root = parse(doc).unwrap();
        let mut out = String::new();
        root.write(&mut out, 0);
        assert!(
            out.contains("\n    <profile>\n      <id>ci</id>\n"),
            "{out}"
        );
        assert!(
            out.contains("<x>a &amp; b</x>") && out.contains("<cdata>&lt;y&gt;</cdata>"),
            "{out}"
        );
        let again = parse(&out).unwrap();
        let text = |e: &Element| {
            e.child("profiles")
                .unwrap()
                .child("profile")
                .unwrap()
                .child("properties")
                .unwrap()
                .child_text("cdata")
                .map(str::to_string)
        };
        assert_eq!(text(&again).as_deref(), Some("<y>"));
        assert_eq!(text(&again), text(&root));
    }

    #[test]
    fn malformed_documents_are_errors_with_lines() {
        let cases = [
            ("<a>\n<b>\n</a>", 3, ""),
            ("<a>\n  <b>x</b>\n", 3, "not closed"),
            ("<a/><b/>", 1, "second root"),
            ("<a>&nbsp;</a>", 1, "unknown entity"),
            ("text<a/>", 1, "outside the root"),
            ("", 1, "no root"),
            ("<!-- only a comment -->", 1, "no root"),
        ];
        for (doc, line, what) in cases {
            let err = parse(doc).unwrap_err();
            assert_eq!(err.line, line, "{doc:?}: {err}");
            assert!(err.what.contains(what), "{doc:?}: {err}");
        }
    }
}
