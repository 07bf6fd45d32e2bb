//! Secrets are I/O done at the edge, before planning: the planner stays pure.

use crate::model::Model;

/// Reads every declared VNC password (environment variable or file) into the model, before
/// planning: the planner is pure, so secrets are I/O done here, at the edge. A source that
/// cannot be read becomes an error the planner reports for that VM (naming the variable or
/// file, never a value); nothing is printed here.
pub fn resolve_secrets(model: &mut Model) {
    for vm in model.vms.values_mut() {
        let name = vm.name.clone();
        if let Some(vnc) = vm.console.vnc.as_mut() {
            vnc.password_value = vnc.password.as_ref().map(|src| {
                crate::model::secret::read_vnc_password(src).map_err(|e| format!("VM `{name}`: VNC password: {e}"))
            });
        }
    }
}
