//! `airlock dp epsilon` and `airlock dp noise`: the accountant of `airlock-dp`.

use crate::ExitStatus;
use crate::cli::{AccountantArg, DpCommand};
use crate::report;

pub fn run(cmd: DpCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        DpCommand::Epsilon {
            noise_multiplier,
            run,
        } => {
            let AccountantArg::Rdp = run.accountant;
            let mut acc = airlock_dp::RdpAccountant::default();
            acc.compose_poisson_gaussian(noise_multiplier, run.sampling_rate, run.steps)?;
            let (epsilon, order) = acc.epsilon(run.delta)?;
            if json {
                report::json(&serde_json::json!({
                    "status": "ok",
                    "epsilon": epsilon,
                    "delta": run.delta,
                    "order": order,
                    "accountant": "rdp",
                    "noise_multiplier": noise_multiplier,
                    "sampling_rate": run.sampling_rate,
                    "steps": run.steps,
                }));
            } else {
                report::out(&format!(
                    "epsilon {epsilon:.4} at delta {} ({} steps, noise multiplier {noise_multiplier}, sampling rate {}; RDP accountant, best order {order})\n",
                    run.delta, run.steps, run.sampling_rate
                ));
            }
        }
        DpCommand::Noise { epsilon, run } => {
            let AccountantArg::Rdp = run.accountant;
            let sigma =
                airlock_dp::calibrate_noise(epsilon, run.sampling_rate, run.steps, run.delta)?;
            let reached = airlock_dp::epsilon(sigma, run.sampling_rate, run.steps, run.delta)?;
            if json {
                report::json(&serde_json::json!({
                    "status": "ok",
                    "noise_multiplier": sigma,
                    "epsilon": reached,
                    "target_epsilon": epsilon,
                    "delta": run.delta,
                    "accountant": "rdp",
                    "sampling_rate": run.sampling_rate,
                    "steps": run.steps,
                }));
            } else {
                report::out(&format!(
                    "noise multiplier {sigma:.4} gives epsilon {reached:.4} (target {epsilon}) at delta {} over {} steps at sampling rate {}\n",
                    run.delta, run.steps, run.sampling_rate
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}
