//! A byte-level budget on the shape of a JSON body, checked chunk by chunk while the body
//! arrives and before anything is parsed: how deep it nests and how many elements its
//! arrays and objects hold together. A body of a million tiny documents is refused after
//! the first few hundred kilobytes, instead of being parsed into gigabytes of structs.
//!
//! The scanner does not validate JSON (serde does that afterwards); it only follows strings
//! and escapes well enough never to count a bracket or comma inside a string.

/// Why a body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("request body nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("request body holds more than {0} array and object elements")]
    TooManyElements(usize),
}

/// Follows a JSON text through any number of chunks.
#[derive(Debug, Clone)]
pub struct ShapeScanner {
    max_depth: usize,
    max_elements: usize,
    depth: usize,
    elements: usize,
    in_string: bool,
    escaped: bool,
}

impl ShapeScanner {
    pub fn new(max_depth: usize, max_elements: usize) -> Self {
        Self {
            max_depth,
            max_elements,
            depth: 0,
            elements: 0,
            in_string: false,
            escaped: false,
        }
    }

    /// Scans the next chunk of the body.
    ///
    /// # Errors
    /// As soon as the body nests too deep or holds too many elements.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ShapeError> {
        for &b in chunk {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > self.max_depth {
                        return Err(ShapeError::TooDeep(self.max_depth));
                    }
                    self.count()?;
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                // Every element after the first of an array or object follows a comma.
                b',' => self.count()?,
                _ => {}
            }
        }
        Ok(())
    }

    fn count(&mut self) -> Result<(), ShapeError> {
        self.elements += 1;
        if self.elements > self.max_elements {
            return Err(ShapeError::TooManyElements(self.max_elements));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, depth: usize, elements: usize) -> Result<(), ShapeError> {
        ShapeScanner::new(depth, elements).feed(text.as_bytes())
    }

    #[test]
    fn ordinary_bodies_pass_and_strings_are_not_counted() {
        let body = r#"{"a": [1, 2, {"b": "x,y,[{"}], "c": "q\"]]],,,"}"#;
        assert_eq!(scan(body, 3, 6), Ok(()));
        assert_eq!(scan(body, 2, 100), Err(ShapeError::TooDeep(2)));
        assert_eq!(scan(body, 10, 5), Err(ShapeError::TooManyElements(5)));
    }

    #[test]
    fn chunks_split_anywhere_give_the_same_answer() {
        let body = r#"{"s": "a\\\"b,[", "l": [[1,2],[3,4]]}"#;
        for split in 0..body.len() {
            let mut s = ShapeScanner::new(3, 8);
            let (a, b) = body.as_bytes().split_at(split);
            assert_eq!(
                s.feed(a).and_then(|()| s.feed(b)),
                Ok(()),
                "split at {split}"
            );
            let mut tight = ShapeScanner::new(3, 7);
            assert_eq!(
                tight.feed(a).and_then(|()| tight.feed(b)),
                Err(ShapeError::TooManyElements(7)),
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_flood_of_tiny_documents_is_refused_early() {
        let mut s = ShapeScanner::new(32, 20_000);
        s.feed(br#"{"documentCheckResult":{"documents":["#).unwrap();
        let mut fed = 0;
        let refused = loop {
            if let Err(e) = s.feed(br#"{"type":"ID_CARD"},"#) {
                break e;
            }
            fed += 1;
        };
        assert_eq!(refused, ShapeError::TooManyElements(20_000));
        assert!(fed < 10_001, "{fed}");
    }
}
