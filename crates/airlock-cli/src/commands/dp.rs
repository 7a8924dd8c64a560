//! `airlock dp epsilon` and `airlock dp noise`: the accountants of `airlock-dp`.

use crate::ExitStatus;
use crate::cli::DpCommand;
use crate::report;
use airlock_dp::Accountant;

pub fn run(cmd: DpCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        DpCommand::Epsilon {
            noise_multiplier,
            run,
        } => {
            let accountant = Accountant::from(run.accountant);
            let (q, steps, delta) = (run.sampling_rate, run.steps, run.delta);
            // the RDP accountant also names the order that gave its answer
            let (epsilon, order) = match accountant {
                Accountant::Rdp => {
                    let mut acc = airlock_dp::RdpAccountant::default();
                    acc.compose_poisson_gaussian(noise_multiplier, q, steps)?;
                    let (e, order) = acc.epsilon(delta)?;
                    (e, Some(order))
                }
                Accountant::Pld => (
                    airlock_dp::epsilon_with(accountant, noise_multiplier, q, steps, delta)?,
                    None,
                ),
            };
            if !epsilon.is_finite() {
                anyhow::bail!(
                    "no finite epsilon at delta {delta}: the infinite-loss mass alone exceeds it"
                );
            }
            if json {
                let mut out = serde_json::json!({
                    "status": "ok",
                    "epsilon": epsilon,
                    "delta": delta,
                    "accountant": accountant.name(),
                    "noise_multiplier": noise_multiplier,
                    "sampling_rate": q,
                    "steps": steps,
                });
                if let Some(order) = order {
                    out["order"] = order.into();
                }
                report::json(&out);
            } else {
                let how = match order {
                    Some(order) => format!("RDP accountant, best order {order}"),
                    None => "PLD accountant".to_string(),
                };
                report::out(&format!(
                    "epsilon {epsilon:.4} at delta {delta} ({steps} steps, noise multiplier {noise_multiplier}, sampling rate {q}; {how})\n",
                ));
            }
        }
        DpCommand::Noise { epsilon, run } => {
            let accountant = Accountant::from(run.accountant);
            let (q, steps, delta) = (run.sampling_rate, run.steps, run.delta);
            let sigma = airlock_dp::calibrate_noise_with(accountant, epsilon, q, steps, delta)?;
            let reached = airlock_dp::epsilon_with(accountant, sigma, q, steps, delta)?;
            if json {
                report::json(&serde_json::json!({
                    "status": "ok",
                    "noise_multiplier": sigma,
                    "epsilon": reached,
                    "target_epsilon": epsilon,
                    "delta": delta,
                    "accountant": accountant.name(),
                    "sampling_rate": q,
                    "steps": steps,
                }));
            } else {
                report::out(&format!(
                    "noise multiplier {sigma:.4} gives epsilon {reached:.4} (target {epsilon}) at delta {delta} over {steps} steps at sampling rate {q} ({} accountant)\n",
                    accountant.name().to_uppercase()
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}
