//! Exclusion of phrases (`-"not yet"`, `-デプロイ`) without tripping a tantivy 0.27 bug.
//!
//! tantivy 0.27's `PhraseScorer` asserts that it is never asked about a document before
//! its current one (quickwit-oss/tantivy#2811), but a `MustNot` clause does exactly that
//! when the phrase's first match comes after the first candidate: debug builds panic,
//! release builds rely on behaviour the code does not promise. We sidestep it by
//! evaluating an excluded phrase completely per segment into a bitset first; the
//! exclusion then iterates a plain `BitSetDocSet`, which supports any seek. Exclusions
//! are rare and a phrase's matches are few, so the extra pass costs little.

use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader};

/// A query matching exactly what the inner query matches, computed eagerly per segment.
#[derive(Debug)]
pub struct Materialized(pub Box<dyn Query>);

impl Clone for Materialized {
    fn clone(&self) -> Self {
        Materialized(self.0.box_clone())
    }
}

impl Query for Materialized {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let inner = self
            .0
            .weight(EnableScoring::disabled_from_schema(enable_scoring.schema()))?;
        Ok(Box::new(MaterializedWeight(inner)))
    }
}

struct MaterializedWeight(Box<dyn Weight>);

impl MaterializedWeight {
    fn bitset(&self, reader: &SegmentReader) -> tantivy::Result<BitSet> {
        let mut bitset = BitSet::with_max_value(reader.max_doc());
        self.0.for_each_no_score(reader, &mut |docs: &[DocId]| {
            for &doc in docs {
                bitset.insert(doc);
            }
        })?;
        Ok(bitset)
    }
}

impl Weight for MaterializedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let docs = BitSetDocSet::from(self.bitset(reader)?);
        Ok(Box::new(ConstScorer::new(docs, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("materialized", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}
