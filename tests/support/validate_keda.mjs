// Validates KEDA ScaledObjects (a JSON list on stdin) with @kubernetes-models/keda: JSON schemas generated
// from KEDA's own API types (github.com/kedacore/keda/v2/apis/keda/v1alpha1). Prints one line per object,
// "ok <name>" or "invalid <name>: <reason>", and exits 1 when any is invalid.
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";

let input = "";
for await (const chunk of process.stdin) input += chunk;
let failed = false;
for (const doc of JSON.parse(input)) {
  const name = doc?.metadata?.name ?? "?";
  try {
    new ScaledObject(doc).validate();
    console.log(`ok ${name}`);
  } catch (err) {
    failed = true;
    console.log(`invalid ${name}: ${String(err.message).split("\n")[0]}`);
  }
}
process.exit(failed ? 1 : 0);
