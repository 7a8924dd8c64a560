//! De-identification of Arrow batches held in memory, for the front doors that hold data
//! rather than files (the Python package, Spark executors): the same plan, text engine and
//! residual scan as [`crate::deid_table`], one batch at a time. What needs the whole table is
//! the caller's to arrange: a first pass ([`BatchDeid::observe`], then
//! [`BatchDeid::prepare`]) when [`BatchDeid::needs_first_pass`], or, where the rows are spread
//! over machines, the counts of `suppress_rare` summed elsewhere
//! ([`BatchDeid::seed_counts`]). The policy's `[risk]` block, a search over the whole table,
//! runs after every batch is de-identified: [`BatchDeid::generalize`] where the batches are
//! all here, or its steps ([`BatchDeid::risk`]: count, sum the counts, solve, recode) where
//! they are spread over machines.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};

use airlock_core::keys::WorkspaceSecret;
use airlock_core::manifest::Findings;
use airlock_core::policy::Policy;
use airlock_core::risk::RiskRecord;
use airlock_core::text::TextScrubber;
use airlock_deid::engine::{OffsetCache, Plan, RunKeys};
use airlock_risk::anonymize::Solution;
use airlock_risk::policy::RiskStep;
use airlock_text::TextEngine;

use crate::Result;

/// One de-identification of batches under a policy.
pub struct BatchDeid {
    plan: Plan,
    engine: TextEngine,
    findings: Findings,
    cache: OffsetCache,
    risk: Option<RiskStep>,
}

/// What [`BatchDeid::generalize`] made of the batches.
#[derive(Debug)]
pub enum Generalization {
    /// The batches recoded, and the record of the step (`None` without a `[risk]` block).
    Done {
        batches: Vec<RecordBatch>,
        record: Option<Box<RiskRecord>>,
    },
    /// No generalization meets the block's criteria within its suppression limit.
    NoSolution {
        lattice_size: usize,
        suppression_limit: u64,
    },
}

impl BatchDeid {
    /// Compiles `policy` for batches of `schema` (unclassified columns fail closed, as in
    /// `airlock deid`); `scan` runs the residual scan on the output.
    pub fn new(
        policy: &Policy,
        secret: &WorkspaceSecret,
        schema: &Schema,
        scan: bool,
    ) -> Result<Self> {
        let risk = RiskStep::of_policy(policy);
        let engine = crate::text_engine_for(policy, secret)?;
        let plan = Plan::compile(
            policy,
            schema,
            Path::new("<arrow>"),
            &RunKeys::derive(secret),
            scan,
        )?;
        let findings = Findings {
            scanner: if scan {
                engine.name().into()
            } else {
                "none".into()
            },
            scanned_columns: plan.scanned_column_names(),
            ..Findings::default()
        };
        Ok(Self {
            plan,
            engine,
            findings,
            cache: OffsetCache::default(),
            risk,
        })
    }

    /// The policy's `[risk]` block, to run after [`Self::apply`] on every batch.
    pub fn risk(&self) -> Option<&RiskStep> {
        self.risk.as_ref()
    }

    /// The `[risk]` step on de-identified batches held here: every batch counted, the
    /// optimal generalization searched, every batch recoded. Without a `[risk]` block, the
    /// batches as they are.
    pub fn generalize(&self, batches: Vec<RecordBatch>) -> Result<Generalization> {
        let Some(step) = &self.risk else {
            return Ok(Generalization::Done {
                batches,
                record: None,
            });
        };
        let schema = self.output_schema();
        let mut histogram = step.histogram(Path::new("<arrow>"));
        for b in &batches {
            histogram.add_batch(&schema, b)?;
        }
        match step.solve(histogram)? {
            Solution::NoSolution {
                lattice_size,
                suppression_limit,
                ..
            } => Ok(Generalization::NoSolution {
                lattice_size,
                suppression_limit,
            }),
            Solution::Found {
                record,
                result: recoding,
                ..
            } => {
                let out_schema = recoding.output_schema(&schema)?;
                Ok(Generalization::Done {
                    batches: recoding.apply_all(&batches, &out_schema, Path::new("<arrow>"))?,
                    record: Some(record),
                })
            }
        }
    }

    /// Whether a first pass over every batch must come before the first `apply`.
    pub fn needs_first_pass(&self) -> bool {
        self.plan.needs_first_pass()
    }

    /// The first pass: one batch.
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        Ok(self.plan.observe(batch)?)
    }

    /// After the first pass.
    pub fn prepare(&mut self) {
        self.plan.prepare(&self.engine, 1);
    }

    /// De-identifies one batch; its residual findings are added to [`Self::findings`].
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let out = self.plan.apply(batch, &self.engine, &mut self.cache)?;
        self.plan.absorb(&out.counts, &mut self.findings);
        Ok(out.batch)
    }

    /// De-identifies `batches` on up to `threads` threads (each batch whole on one), in order.
    pub fn apply_all(
        &mut self,
        batches: &[RecordBatch],
        threads: usize,
    ) -> Result<Vec<RecordBatch>> {
        let threads = threads.clamp(1, batches.len().max(1));
        if threads == 1 {
            return batches.iter().map(|b| self.apply(b)).collect();
        }
        let plan = &self.plan;
        let engine = &self.engine;
        let chunk = batches.len().div_ceil(threads);
        let parts: Vec<Result<Vec<airlock_deid::engine::BatchOutput>>> = std::thread::scope(|s| {
            let handles: Vec<_> = batches
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        let mut cache = OffsetCache::default();
                        part.iter()
                            .map(|b| Ok(plan.apply(b, engine, &mut cache)?))
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(airlock_core::Error::Internal {
                            place: "a transform thread",
                        }
                        .into())
                    })
                })
                .collect()
        });
        let mut out = Vec::with_capacity(batches.len());
        for part in parts {
            for o in part? {
                self.plan.absorb(&o.counts, &mut self.findings);
                out.push(o.batch);
            }
        }
        Ok(out)
    }

    /// The schema of [`Self::apply`]'s batches.
    pub fn output_schema(&self) -> SchemaRef {
        self.plan.output_schema()
    }

    /// The schema of the batches [`Self::generalize`] hands back: [`Self::output_schema`] with
    /// the `[risk]` block's quasi-identifiers as text.
    pub fn final_schema(&self) -> Result<SchemaRef> {
        let schema = self.output_schema();
        Ok(match &self.risk {
            Some(step) => airlock_risk::anonymize::recoded_schema(&schema, step.qis())?,
            None => schema,
        })
    }

    /// The residual findings so far (counts by column and kind: never a value).
    pub fn findings(&self) -> &Findings {
        &self.findings
    }

    /// The `suppress_rare` columns and their `k`.
    pub fn rare_columns(&self) -> Vec<(String, u32)> {
        self.plan.rare_columns()
    }

    /// The patient column, when each patient's identifiers are gathered across rows for the
    /// free text (all of a patient's rows must then be seen by one run).
    pub fn patient_memory_column(&self) -> Option<String> {
        self.plan.patient_memory_column()
    }

    /// The `suppress_rare` counts observed so far: (column, value, count).
    pub fn value_counts(&self) -> Vec<(String, String, u64)> {
        self.plan.value_counts()
    }

    /// Sets the `suppress_rare` counts from elsewhere (the whole table's, summed by Spark);
    /// the first pass then counts nothing more. A value not given counts 0.
    pub fn seed_counts(&mut self, counts: &HashMap<String, HashMap<String, u64>>) {
        self.plan.seed_counts(counts);
    }
}
