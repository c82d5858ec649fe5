// Package hyperparam decodes SageMaker hyperparameters.
//
// SageMaker writes every hyperparameter to hyperparameters.json as a string.
// The SageMaker Python SDK (since 2.110, for framework and script-mode
// estimators) JSON-encodes each value once more, so a string arrives as
// "\"train.py\"" and a number as "2". Value applies the rule
// sagemaker-training-toolkit uses for both forms: json.loads when it
// succeeds, otherwise the raw string.
//
// Decode fills a struct from the hyperparameters by its field tags:
//
//	type Config struct {
//		Epochs int           `hp:"epochs" default:"10"`
//		LR     float64       `hp:"learning-rate,required"`
//		Layers []int         `hp:"layers" default:"64,32"`
//		Wait   time.Duration `hp:"wait" default:"30s"`
//	}
//	var cfg Config
//	err := hyperparam.Decode(hps, &cfg)
//
// A bad value is an *Error naming the key, the value and the expected type
// ("hyperparameter \"epochs\": \"ten\" is not an integer"); every bad key is
// reported at once, joined with errors.Join.
package hyperparam
