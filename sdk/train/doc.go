// Package train is the Go SDK for SageMaker training programs.
//
// A training program is a function run by Main:
//
//	func main() {
//		train.Main(func(ctx context.Context, env *train.Env) error {
//			var cfg struct {
//				Epochs int     `hp:"epochs" default:"10"`
//				LR     float64 `hp:"learning-rate" default:"0.01"`
//			}
//			if err := env.Decode(&cfg); err != nil {
//				return err
//			}
//			for epoch := 1; epoch <= cfg.Epochs; epoch++ {
//				loss := step(ctx)
//				env.Metrics.LogStep("loss", epoch, loss)
//			}
//			return train.WriteModel(env, "model.json", weights)
//		})
//	}
//
// ctx is cancelled on SIGTERM or SIGINT (SageMaker sends SIGTERM, then
// SIGKILL 120 s later), so a program can save a checkpoint and return. An
// error or a panic writes /opt/ml/output/failure with the cause first
// (SageMaker keeps the first 1024 bytes as the job's FailureReason) and
// exits 1; success writes /opt/ml/output/success and exits 0. Run is the
// same without the process exit, for tests and for embedding.
//
// # Metrics
//
// Metrics.Log and Metrics.LogStep print one line per metric on stdout:
//
//	#metric name=loss value=0.25 step=3
//
// The value is Go's shortest float form ("0.25", "1e-05"), "NaN",
// "Infinity" or "-Infinity". The MetricDefinitions regex for a metric named
// loss is what MetricRegex("loss") returns:
//
//	#metric name=loss value=(NaN|-?Infinity|[-+0-9.eE]+)
//
// # Checkpoints
//
// Env.Checkpoints works in the job's checkpoint directory (LocalPath of
// checkpointconfig.json, default /opt/ml/checkpoints), which SageMaker fills
// from S3 before the program starts and uploads as files appear. Save writes
// atomically; Latest finds the checkpoint to restore on start (names compare
// with their digit runs as numbers, so "step-10" comes after "step-9").
package train
