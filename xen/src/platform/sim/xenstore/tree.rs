//! The xenstore tree of the sim's server, and transactions over it.
//!
//! Every node has a generation, bumped when its value changes or a child is added or
//! removed. A transaction works on a snapshot, records the generation of each node it
//! touches when it first touches it, and commits by replaying its changes on the live
//! tree only if none of those nodes has changed since (else `EAGAIN`), which is the
//! rule of C xenstored since 4.7.

use std::collections::{BTreeMap, HashMap};

use crate::platform::xenstore::msg::{XsErrno, ABS_PATH_MAX};

#[derive(Debug, Clone)]
struct Node {
    value: Vec<u8>,
    gen: u64,
}

/// A tree of canonical absolute paths (`/`, `/a`, `/a/b`).
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, Node>,
    gen: u64,
}

/// A change, as a transaction replays it.
#[derive(Debug, Clone)]
enum Op {
    Write(String, Vec<u8>),
    Mkdir(String),
    Rm(String),
}

/// What a change did, for watches.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fired {
    /// Paths that fire watches on themselves and their ancestors.
    pub subtree: Vec<String>,
    /// Paths that fire only watches set exactly on them (nodes removed below the
    /// root of an `rm`).
    pub exact: Vec<String>,
}

/// The parent of a canonical path other than `/`.
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Whether `path` is `dir` or below it.
pub(crate) fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Checks and canonicalises a path: relative paths are under `home`; characters are
/// xenstored's (`A-Za-z0-9-/_@`), with no empty component or trailing slash.
pub(crate) fn canonical(path: &[u8], home: &str) -> Result<String, XsErrno> {
    let ok_char = |c: &u8| c.is_ascii_alphanumeric() || b"-/_@".contains(c);
    if path.is_empty() || !path.iter().all(ok_char) {
        return Err(XsErrno::EINVAL);
    }
    // Valid UTF-8: the bytes are ASCII.
    let p = String::from_utf8_lossy(path);
    let abs = if p.starts_with('/') {
        p.into_owned()
    } else {
        format!("{home}/{p}")
    };
    let bad =
        abs.len() > ABS_PATH_MAX || (abs != "/" && (abs.ends_with('/') || abs.contains("//")));
    if bad {
        return Err(XsErrno::EINVAL);
    }
    Ok(abs)
}

impl Tree {
    /// A tree with only `/`.
    pub fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "/".to_owned(),
            Node {
                value: Vec::new(),
                gen: 0,
            },
        );
        Self { nodes, gen: 0 }
    }

    fn gen_of(&self, path: &str) -> Option<u64> {
        self.nodes.get(path).map(|n| n.gen)
    }

    fn bump(&mut self, path: &str) {
        self.gen += 1;
        let g = self.gen;
        if let Some(n) = self.nodes.get_mut(path) {
            n.gen = g;
        }
    }

    /// The value at `path`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, XsErrno> {
        self.nodes
            .get(path)
            .map(|n| n.value.clone())
            .ok_or(XsErrno::ENOENT)
    }

    /// Names of `path`'s children.
    pub fn children(&self, path: &str) -> Result<Vec<String>, XsErrno> {
        if !self.nodes.contains_key(path) {
            return Err(XsErrno::ENOENT);
        }
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| {
                let rest = &k[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect())
    }

    /// Creates `path` and missing ancestors (empty values); the paths created, the
    /// topmost first.
    fn create(&mut self, path: &str) -> Vec<String> {
        let mut missing = Vec::new();
        let mut p = path;
        while !self.nodes.contains_key(p) {
            missing.push(p.to_owned());
            p = parent(p);
        }
        missing.reverse();
        for m in &missing {
            self.gen += 1;
            let gen = self.gen;
            self.nodes.insert(
                m.clone(),
                Node {
                    value: Vec::new(),
                    gen,
                },
            );
            let par = parent(m).to_owned();
            self.bump(&par);
        }
        missing
    }

    fn apply(&mut self, op: &Op) -> Result<Fired, XsErrno> {
        match op {
            Op::Write(path, value) => {
                self.create(path);
                if let Some(n) = self.nodes.get_mut(path) {
                    n.value.clone_from(value);
                }
                self.bump(path);
                Ok(Fired {
                    subtree: vec![path.clone()],
                    exact: vec![],
                })
            }
            Op::Mkdir(path) => {
                let created = !self.create(path).is_empty();
                Ok(Fired {
                    subtree: if created { vec![path.clone()] } else { vec![] },
                    exact: vec![],
                })
            }
            Op::Rm(path) => {
                if path == "/" {
                    return Err(XsErrno::EINVAL);
                }
                if !self.nodes.contains_key(path) {
                    // Gone already: fine if the parent exists (xenstored's rule).
                    return if self.nodes.contains_key(parent(path)) {
                        Ok(Fired::default())
                    } else {
                        Err(XsErrno::ENOENT)
                    };
                }
                let below = format!("{path}/");
                let mut exact: Vec<String> = self
                    .nodes
                    .range(below.clone()..)
                    .take_while(|(k, _)| k.starts_with(&below))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &exact {
                    self.nodes.remove(k);
                }
                self.nodes.remove(path);
                let par = parent(path).to_owned();
                self.bump(&par);
                // Deepest first, as xenstored's walk fires them.
                exact.reverse();
                Ok(Fired {
                    subtree: vec![path.clone()],
                    exact,
                })
            }
        }
    }

    /// Sets `path` to `value`.
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<Fired, XsErrno> {
        self.apply(&Op::Write(path.to_owned(), value.to_owned()))
    }

    /// Creates `path` if missing.
    pub fn mkdir(&mut self, path: &str) -> Result<Fired, XsErrno> {
        self.apply(&Op::Mkdir(path.to_owned()))
    }

    /// Removes `path` and its subtree.
    pub fn rm(&mut self, path: &str) -> Result<Fired, XsErrno> {
        self.apply(&Op::Rm(path.to_owned()))
    }
}

/// An open transaction.
#[derive(Debug)]
pub(crate) struct Transaction {
    snapshot: Tree,
    /// Generation (or absence) of each node touched, when first touched.
    seen: HashMap<String, Option<u64>>,
    ops: Vec<Op>,
}

impl Transaction {
    /// Starts on a snapshot of `live`.
    pub fn new(live: &Tree) -> Self {
        Self {
            snapshot: live.clone(),
            seen: HashMap::new(),
            ops: Vec::new(),
        }
    }

    fn touch(&mut self, path: &str) {
        if !self.seen.contains_key(path) {
            let g = self.snapshot.gen_of(path);
            self.seen.insert(path.to_owned(), g);
        }
    }

    /// Touches what `op` depends on: its node; for a creation, each created node's
    /// parent (its child list changes); for a removal, the parent and the subtree.
    fn touch_for(&mut self, op: &Op) {
        match op {
            Op::Write(p, _) | Op::Mkdir(p) => {
                self.touch(p);
                let mut q = p.as_str();
                while q != "/" && self.snapshot.gen_of(q).is_none() {
                    q = parent(q);
                    self.touch(q);
                }
            }
            Op::Rm(p) => {
                self.touch(p);
                self.touch(parent(p));
                let below = format!("{p}/");
                let sub: Vec<String> = self
                    .snapshot
                    .nodes
                    .range(below.clone()..)
                    .take_while(|(k, _)| k.starts_with(&below))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in sub {
                    self.touch(&k);
                }
            }
        }
    }

    /// Reads inside the transaction.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, XsErrno> {
        self.touch(path);
        self.snapshot.read(path)
    }

    /// Lists inside the transaction.
    pub fn children(&mut self, path: &str) -> Result<Vec<String>, XsErrno> {
        self.touch(path);
        self.snapshot.children(path)
    }

    /// Writes inside the transaction.
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsErrno> {
        self.change(Op::Write(path.to_owned(), value.to_owned()))
    }

    /// Creates inside the transaction.
    pub fn mkdir(&mut self, path: &str) -> Result<(), XsErrno> {
        self.change(Op::Mkdir(path.to_owned()))
    }

    /// Removes inside the transaction.
    pub fn rm(&mut self, path: &str) -> Result<(), XsErrno> {
        self.change(Op::Rm(path.to_owned()))
    }

    fn change(&mut self, op: Op) -> Result<(), XsErrno> {
        self.touch_for(&op);
        self.snapshot.apply(&op)?;
        self.ops.push(op);
        Ok(())
    }

    /// Applies the transaction to `live` if nothing it touched has changed; what fired.
    pub fn commit(self, live: &mut Tree) -> Result<Vec<Fired>, XsErrno> {
        if self.seen.iter().any(|(p, g)| live.gen_of(p) != *g) {
            return Err(XsErrno::EAGAIN);
        }
        self.ops.iter().map(|op| live.apply(op)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_and_canonical() {
        let home = "/local/domain/0";
        assert_eq!(canonical(b"/a/b", home).unwrap(), "/a/b");
        assert_eq!(
            canonical(b"backend/vif", home).unwrap(),
            "/local/domain/0/backend/vif"
        );
        assert_eq!(canonical(b"/", home).unwrap(), "/");
        for bad in [&b""[..], b"/a/", b"/a//b", b"/a b", b"/\xff", b"/a.b"] {
            assert_eq!(canonical(bad, home), Err(XsErrno::EINVAL), "{bad:?}");
        }
        assert!(canonical(&[b'a'; ABS_PATH_MAX], "/").is_err());
        assert!(is_under("/a/b", "/a") && is_under("/a", "/a") && is_under("/a", "/"));
        assert!(!is_under("/ab", "/a"));
    }

    #[test]
    fn write_creates_parents_and_rm_reports_the_subtree() {
        let mut t = Tree::new();
        t.write("/a/b/c", b"v").unwrap();
        assert_eq!(t.read("/a/b").unwrap(), b"");
        assert_eq!(t.children("/").unwrap(), vec!["a"]);
        assert_eq!(t.children("/a/b").unwrap(), vec!["c"]);
        assert_eq!(t.mkdir("/a/b").unwrap(), Fired::default());
        let f = t.rm("/a").unwrap();
        assert_eq!(f.subtree, vec!["/a"]);
        assert_eq!(f.exact, vec!["/a/b/c", "/a/b"]);
        assert_eq!(t.read("/a"), Err(XsErrno::ENOENT));
        assert_eq!(t.rm("/a").unwrap(), Fired::default());
        assert_eq!(t.rm("/x/y"), Err(XsErrno::ENOENT));
        assert_eq!(t.rm("/"), Err(XsErrno::EINVAL));
    }

    #[test]
    fn transactions_conflict_only_on_what_they_touched() {
        let mut live = Tree::new();
        live.write("/be/state", b"1").unwrap();
        live.write("/be/mac", b"1").unwrap();
        live.write("/fe/state", b"1").unwrap();

        let mut tx = Transaction::new(&live);
        assert_eq!(tx.read("/be/state").unwrap(), b"1");
        tx.write("/be/feature", b"1").unwrap();
        // Other writers change untouched nodes, even siblings: no conflict.
        live.write("/fe/state", b"2").unwrap();
        live.write("/be/mac", b"2").unwrap();
        assert_eq!(live.read("/be/feature"), Err(XsErrno::ENOENT));
        assert!(tx.commit(&mut live).is_ok());
        assert_eq!(live.read("/be/feature").unwrap(), b"1");

        let mut tx = Transaction::new(&live);
        tx.read("/be/state").unwrap();
        live.write("/be/state", b"2").unwrap();
        assert_eq!(tx.commit(&mut live).unwrap_err(), XsErrno::EAGAIN);

        // Creating a child changes the parent's child list: two creators conflict.
        let mut tx = Transaction::new(&live);
        tx.write("/be/a", b"1").unwrap();
        live.write("/be/b", b"1").unwrap();
        assert_eq!(tx.commit(&mut live).unwrap_err(), XsErrno::EAGAIN);

        // A node read as missing that appears meanwhile conflicts too.
        let mut tx = Transaction::new(&live);
        assert_eq!(tx.read("/new"), Err(XsErrno::ENOENT));
        live.write("/new", b"x").unwrap();
        assert_eq!(tx.commit(&mut live).unwrap_err(), XsErrno::EAGAIN);
    }
}
