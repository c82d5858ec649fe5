package toolkit

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sagekit/sagekit/sdk/hyperparam"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Reserved hyperparameter names (the toolkit's params.SAGEMAKER_HYPERPARAMETERS).
const (
	ParamProgram         = "sagemaker_program"
	ParamSubmitDirectory = "sagemaker_submit_directory"
	ParamEnableMetrics   = "sagemaker_enable_cloudwatch_metrics"
	ParamRegion          = "sagemaker_region"
	ParamLogLevel        = "sagemaker_container_log_level"
	ParamJobName         = "sagemaker_job_name"
	ParamDefaultModule   = "default_user_module_name"
	ParamTuningObjective = "_tuning_objective_metric"
	ParamS3Output        = "sagemaker_s3_output"

	// ParamPrefix marks SageMaker's keys: any key starting with it is
	// excluded from the user's hyperparameters.
	ParamPrefix = "sagemaker_"

	// ParamDistributionInstanceGroups overrides the distribution groups.
	ParamDistributionInstanceGroups = "sagemaker_distribution_instance_groups"
)

// Reserved lists the reserved names in the toolkit's order.
var Reserved = []string{
	ParamProgram, ParamSubmitDirectory, ParamEnableMetrics, ParamRegion, ParamLogLevel,
	ParamJobName, ParamDefaultModule, ParamTuningObjective, ParamS3Output,
}

// distributionFlags switch on distribution for the current instance group
// (Environment.get_distribution_instance_groups_from_resource_config).
var distributionFlags = []string{
	"sagemaker_mpi_enabled",
	"sagemaker_parameter_server_enabled",
	"sagemaker_distributed_dataparallel_enabled",
	"sagemaker_pytorch_ddp_enabled",
	"sagemaker_pytorch_xla_multi_worker_enabled",
	"sagemaker_multi_worker_mirrored_strategy_enabled",
	"sagemaker_torch_distributed_enabled",
}

// Environment variables the toolkit reads.
const (
	EnvTrainingModule = optml.EnvTrainingModule
	EnvModelParallel  = "SM_HP_MP_PARAMETERS"
	EnvDefaultRegion  = "AWS_DEFAULT_REGION"
	// EnvS3Endpoint sends the toolkit's S3 downloads (an s3://
	// sagemaker_submit_directory) to another endpoint.
	EnvS3Endpoint       = "S3_ENDPOINT_URL"
	defaultLogLevel     = 20 // logging.INFO
	defaultInstanceType = optml.DefaultInstanceType
)

// IsReserved reports whether a hyperparameter belongs to SageMaker rather
// than to the user (section 1.8.2 of the contract).
func IsReserved(key string) bool {
	if strings.HasPrefix(key, ParamPrefix) {
		return true
	}
	for _, r := range Reserved {
		if key == r {
			return true
		}
	}
	return false
}

// Split decodes every value (hyperparam.Value) and splits hps, kept in
// order, into SageMaker's keys and the user's.
func Split(hps hyperparam.Object) (sagemaker, user hyperparam.Object) {
	sagemaker, user = hyperparam.Object{}, hyperparam.Object{}
	for _, m := range hps {
		v := m.Value
		if s, ok := v.(string); ok {
			v = hyperparam.Value(s)
		}
		if IsReserved(m.Key) {
			sagemaker = append(sagemaker, hyperparam.Member{Key: m.Key, Value: v})
		} else {
			user = append(user, hyperparam.Member{Key: m.Key, Value: v})
		}
	}
	return sagemaker, user
}

// Args is mapping.to_cmd_args: keys sorted, "--key" ("-k" for a one-letter
// key, "" for the empty key), each followed by its value in Python's str()
// form; None is "", and a dict is "k1=v1,k2=v2" with sorted keys.
func Args(hps hyperparam.Object) []string {
	sorted := append(hyperparam.Object(nil), hps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	args := make([]string, 0, 2*len(sorted))
	for _, m := range sorted {
		switch {
		case m.Key == "":
			args = append(args, "")
		case len([]rune(m.Key)) == 1:
			args = append(args, "-"+m.Key)
		default:
			args = append(args, "--"+m.Key)
		}
		args = append(args, argValue(m.Value))
	}
	return args
}

func argValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case hyperparam.Object:
		items := append(hyperparam.Object(nil), x...)
		sort.SliceStable(items, func(i, j int) bool { return items[i].Key < items[j].Key })
		parts := make([]string, len(items))
		for i, m := range items {
			parts[i] = m.Key + "=" + Str(m.Value)
		}
		return strings.Join(parts, ",")
	}
	return Str(v)
}

// Var is one environment variable.
type Var struct {
	Name, Value string
}

// envValue is mapping.to_env_vars' format_value.
func envValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return JSON(v)
}

// envName is mapping.to_env_vars' format_key: "SM_" and the key upper-cased,
// every other character kept.
func envName(key string) string {
	if key == "" {
		return ""
	}
	return "SM_" + pyUpper(key)
}

// Config is what the toolkit reads from input/config, parsed with Python's
// json semantics and kept in file order.
type Config struct {
	// Hyperparameters holds the raw string values of hyperparameters.json.
	Hyperparameters hyperparam.Object
	InputDataConfig hyperparam.Object
	ResourceConfig  hyperparam.Object
}

// System is what the toolkit learns from the machine.
type System struct {
	NumCPUs    int
	NumGPUs    int
	NumNeurons int
	// SMDDPRun and SMDDPMPRun report whether smddprun and smddpmprun are on PATH.
	SMDDPRun, SMDDPMPRun bool
}

// Environment is the toolkit's Environment for one training run.
type Environment struct {
	// SageMaker holds the reserved hyperparameters, decoded.
	SageMaker hyperparam.Object
	// Hyperparameters holds the user's hyperparameters, decoded, in file order.
	Hyperparameters hyperparam.Object
	// FrameworkParams holds the sagemaker_* keys that are not reserved names.
	FrameworkParams hyperparam.Object

	// Args is the user program's argv after the program (to_cmd_args).
	Args []string
	// Vars is the SM_* environment in the order to_env_vars produces it.
	Vars []Var
	// ProcessVars are the variables the toolkit sets in its own environment
	// (and so passes on): SAGEMAKER_JOB_NAME, CURRENT_HOST, SAGEMAKER_REGION.
	ProcessVars []Var

	// UserEntryPoint is SAGEMAKER_PROGRAM, else the sagemaker_program
	// hyperparameter; nil when neither is set.
	UserEntryPoint any
	// ModuleDir is the sagemaker_submit_directory hyperparameter, or the code dir.
	ModuleDir string
	// Training is SM_TRAINING_ENV's object: the Environment's 37 properties.
	Training hyperparam.Object
}

// New computes the Environment the toolkit would, from cfg, sys and the
// process environment (lookup), with paths rooted at p.
func New(p optml.Paths, cfg Config, sys System, lookup func(string) (string, bool)) (*Environment, error) {
	rc := cfg.ResourceConfig
	currentHostV, ok := rc.Get("current_host")
	if !ok {
		return nil, &optml.FileError{File: p.ResourceConfig(), Err: errors.New(`"current_host" is missing`)}
	}
	currentHost := Str(currentHostV)
	hosts, _ := getDefault(rc, "hosts", nil).([]any)
	if len(hosts) == 0 {
		// The toolkit raises KeyError or IndexError here; a single host is
		// what the job can only mean.
		hosts = []any{currentHostV}
	}
	currentInstanceType := getDefault(rc, "current_instance_type", defaultInstanceType)
	currentGroup := getDefault(rc, "current_group_name", optml.DefaultInstanceGroup)
	networkInterface := getDefault(rc, "network_interface_name", optml.DefaultNetworkInterface)
	topology := getDefault(rc, "topology", []any{})

	sm, user := Split(cfg.Hyperparameters)
	framework := hyperparam.Object{}
	for _, m := range sm {
		if !isReservedName(m.Key) {
			framework = append(framework, m)
		}
	}

	var moduleName any
	if v, ok := lookup(optml.EnvProgram); ok {
		moduleName = v
	} else {
		moduleName = Str(getDefault(sm, ParamProgram, nil))
	}
	var entry any
	if v, ok := lookup(optml.EnvProgram); ok && v != "" {
		entry = v
	} else {
		entry = getDefault(sm, ParamProgram, nil)
	}
	if s, ok := moduleName.(string); ok {
		moduleName = strings.TrimSuffix(s, ".py")
	}
	moduleDir := Str(getDefault(sm, ParamSubmitDirectory, p.Code()))
	logLevel := getDefault(sm, ParamLogLevel, int64(defaultLogLevel))

	var frameworkModule any
	if v, ok := lookup(EnvTrainingModule); ok {
		frameworkModule = v
	}
	var jobName any
	if v, ok := lookup(optml.EnvTrainingJobName); ok {
		jobName = v
	}
	var modelParallel any
	if v, ok := lookup(EnvModelParallel); ok {
		if v == "" {
			modelParallel = ""
		} else {
			modelParallel = v != "{}"
		}
	}

	groupsCfg, _ := getDefault(rc, "instance_groups", []any{}).([]any)
	var currentGroupHosts any = []any{}
	foundGroup := false
	instanceGroups := []any{}
	groupsDict := hyperparam.Object{}
	for _, g := range groupsCfg {
		gobj, _ := g.(hyperparam.Object)
		name, _ := gobj.Get("instance_group_name")
		ghosts, _ := gobj.Get("hosts")
		if !foundGroup && pyEqual(currentGroup, name) {
			currentGroupHosts, foundGroup = ghosts, true
		}
		instanceGroups = append(instanceGroups, name)
		groupsDict = setKey(groupsDict, Str(name), g)
	}

	var distGroups any
	if v, ok := framework.Get(ParamDistributionInstanceGroups); ok {
		distGroups = v
	} else {
		list := []any{}
		for _, flag := range distributionFlags {
			if v, ok := framework.Get(flag); ok && truthy(v) {
				list = append(list, currentGroup)
				break
			}
		}
		distGroups = list
	}
	distHosts := []any{}
	if len(groupsCfg) > 0 {
		for _, g := range groupsCfg {
			gobj, _ := g.(hyperparam.Object)
			name, _ := gobj.Get("instance_group_name")
			if contains(distGroups, name) {
				ghosts, _ := gobj.Get("hosts")
				if l, ok := ghosts.([]any); ok {
					distHosts = append(distHosts, l...)
				}
			}
		}
	} else {
		distHosts = append(distHosts, hosts...)
	}
	master := hosts[0]
	if len(distHosts) > 0 {
		master = distHosts[0]
	}

	channelDirs := hyperparam.Object{}
	var channels []string
	for _, m := range cfg.InputDataConfig {
		channelDirs = append(channelDirs, hyperparam.Member{Key: m.Key, Value: p.Channel(m.Key)})
		channels = append(channels, m.Key)
	}
	sort.Strings(channels)
	if channels == nil {
		channels = []string{}
	}

	args := Args(user)
	argList := make([]any, len(args))
	for i, a := range args {
		argList[i] = a
	}

	training := hyperparam.Object{
		kv("additional_framework_parameters", framework),
		kv("channel_input_dirs", channelDirs),
		kv("current_host", currentHostV),
		kv("current_instance_group", currentGroup),
		kv("current_instance_group_hosts", currentGroupHosts),
		kv("current_instance_type", currentInstanceType),
		kv("distribution_hosts", distHosts),
		kv("distribution_instance_groups", distGroups),
		kv("framework_module", frameworkModule),
		kv("hosts", hosts),
		kv("hyperparameters", user),
		kv("input_config_dir", p.InputConfig()),
		kv("input_data_config", cfg.InputDataConfig),
		kv("input_dir", p.Input()),
		kv("instance_groups", instanceGroups),
		kv("instance_groups_dict", groupsDict),
		kv("is_hetero", len(instanceGroups) > 1),
		kv("is_master", pyEqual(currentHostV, master)),
		kv("is_modelparallel_enabled", modelParallel),
		kv("is_smddpmprun_installed", sys.SMDDPMPRun),
		kv("is_smddprun_installed", sys.SMDDPRun),
		kv("job_name", jobName),
		kv("log_level", logLevel),
		kv("master_hostname", master),
		kv("model_dir", p.Model()),
		kv("module_dir", moduleDir),
		kv("module_name", moduleName),
		kv("network_interface_name", networkInterface),
		kv("num_cpus", int64(sys.NumCPUs)),
		kv("num_gpus", int64(sys.NumGPUs)),
		kv("num_neurons", int64(sys.NumNeurons)),
		kv("output_data_dir", p.OutputData()),
		kv("output_dir", p.Output()),
		kv("output_intermediate_dir", p.OutputIntermediate()),
		kv("resource_config", rc),
		kv("topology", topology),
		kv("user_entry_point", entry),
	}

	env := hyperparam.Object{
		kv("hosts", hosts),
		kv("network_interface_name", networkInterface),
		kv("hps", user),
		kv("user_entry_point", entry),
		kv("framework_params", framework),
		kv("resource_config", rc),
		kv("input_data_config", cfg.InputDataConfig),
		kv("output_data_dir", p.OutputData()),
		kv("channels", channels),
		kv("current_host", currentHostV),
		kv("current_instance_type", currentInstanceType),
		kv("current_instance_group", currentGroup),
		kv("current_instance_group_hosts", currentGroupHosts),
		kv("instance_groups", instanceGroups),
		kv("instance_groups_dict", groupsDict),
		kv("distribution_instance_groups", distGroups),
		kv("is_hetero", len(instanceGroups) > 1),
		kv("module_name", moduleName),
		kv("log_level", logLevel),
		kv("framework_module", frameworkModule),
		kv("input_dir", p.Input()),
		kv("input_config_dir", p.InputConfig()),
		kv("output_dir", p.Output()),
		kv("num_cpus", int64(sys.NumCPUs)),
		kv("num_gpus", int64(sys.NumGPUs)),
		kv("num_neurons", int64(sys.NumNeurons)),
		kv("model_dir", p.Model()),
		kv("module_dir", moduleDir),
		kv("training_env", training),
		kv("user_args", argList),
		kv("output_intermediate_dir", p.OutputIntermediate()),
	}
	if truthy(topology) {
		env = append(env, hyperparam.Member{Key: "topology", Value: topology})
	}
	for _, m := range channelDirs {
		env = setKey(env, "channel_"+m.Key, m.Value)
	}
	var bad []error
	for _, m := range user {
		if strings.ContainsAny(m.Key, "=\x00") {
			// SM_HP_X=Y=z would read as SM_HP_X with the value Y=z. The
			// toolkit's subprocess refuses such a name ("illegal environment
			// variable name") and the job fails; it fails here, naming the key.
			bad = append(bad, fmt.Errorf("hyperparameter %q: a name with \"=\" or a NUL byte cannot become the environment variable %s: rename it", m.Key, strings.ReplaceAll(envName("hp_"+m.Key), "\x00", `\0`)))
			continue
		}
		// Keys of one object are unique, and no other key starts with
		// "hp_": appending is setting, without a scan per key.
		env = append(env, hyperparam.Member{Key: "hp_" + m.Key, Value: m.Value})
	}
	if len(bad) > 0 {
		return nil, &optml.FileError{File: p.Hyperparameters(), Err: errors.Join(bad...)}
	}

	var vars []Var
	index := map[string]int{}
	for _, m := range env {
		name, value := envName(m.Key), envValue(m.Value)
		if i, ok := index[name]; ok { // a Python dict keeps the first place, the last value
			vars[i].Value = value
			continue
		}
		index[name] = len(vars)
		vars = append(vars, Var{name, value})
	}

	var region any
	if v, ok := sm.Get(ParamRegion); ok {
		region = v
	} else if v, ok := lookup(EnvDefaultRegion); ok {
		region = v
	}
	if !truthy(region) {
		region = ""
	}
	jobNameParam := envValue(getDefault(sm, ParamJobName, ""))

	return &Environment{
		SageMaker:       sm,
		Hyperparameters: user,
		FrameworkParams: framework,
		Args:            args,
		Vars:            vars,
		ProcessVars: []Var{
			{optml.EnvJobName, jobNameParam},
			{optml.EnvCurrentHost, currentHost},
			{optml.EnvRegion, Str(region)},
		},
		UserEntryPoint: entry,
		ModuleDir:      moduleDir,
		Training:       training,
	}, nil
}

func isReservedName(key string) bool {
	for _, r := range Reserved {
		if key == r {
			return true
		}
	}
	return false
}
