package remote

import (
	"context"
	"errors"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Log groups SageMaker writes to.
const (
	TrainingLogGroup  = "/aws/sagemaker/TrainingJobs"
	TransformLogGroup = "/aws/sagemaker/TransformJobs"
	EndpointLogGroup  = "/aws/sagemaker/Endpoints/" // + endpoint name
)

// LogSource says which CloudWatch Logs streams belong to a job or an
// endpoint, and how a stream's name becomes the host prefix of its lines.
type LogSource struct {
	Group  string
	Prefix string
	// Host names the host of a stream, for the "host | " prefix.
	Host func(stream string) string
}

var epochSuffix = regexp.MustCompile(`-\d{9,}$`)

// TrainingLogs are a training job's streams, JOB/algo-N-EPOCH, shown as
// algo-N.
func TrainingLogs(job string) LogSource {
	return LogSource{Group: TrainingLogGroup, Prefix: job + "/", Host: func(s string) string {
		return epochSuffix.ReplaceAllString(strings.TrimPrefix(s, job+"/"), "")
	}}
}

// TransformLogs are a transform job's streams, JOB/INSTANCE-EPOCH (and
// JOB/INSTANCE-EPOCH/data-log), shown without the job and epoch.
func TransformLogs(job string) LogSource {
	return LogSource{Group: TransformLogGroup, Prefix: job + "/", Host: func(s string) string {
		s = strings.TrimPrefix(s, job+"/")
		host, rest, _ := strings.Cut(s, "/")
		host = epochSuffix.ReplaceAllString(host, "")
		if rest != "" {
			return host + "/" + rest
		}
		return host
	}}
}

// EndpointLogs are an endpoint's streams, VARIANT/INSTANCE.
func EndpointLogs(endpoint string) LogSource {
	return LogSource{Group: EndpointLogGroup + endpoint, Host: func(s string) string { return s }}
}

// Tail follows the streams of a LogSource: each Poll writes the events
// that arrived since the last one, each line prefixed by its host.
type Tail struct {
	c      *Client
	src    LogSource
	w      io.Writer
	tokens map[string]string
	// Lines counts the lines written so far.
	Lines int
}

// Tail returns a Tail writing to w.
func (c *Client) Tail(src LogSource, w io.Writer) *Tail {
	return &Tail{c: c, src: src, w: w, tokens: map[string]string{}}
}

type logLine struct {
	at   int64
	host string
	msg  string
}

// Poll writes what arrived since the last Poll, merged across streams in
// time order. A log group that does not exist yet is not an error: the
// job has not logged anything.
func (t *Tail) Poll(ctx context.Context) error {
	streams, err := t.streams(ctx)
	if err != nil {
		return err
	}
	var lines []logLine
	for _, s := range streams {
		host := s
		if t.src.Host != nil {
			host = t.src.Host(s)
		}
		for {
			in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(t.src.Group), LogStreamName: aws.String(s), StartFromHead: aws.Bool(true)}
			if tok, ok := t.tokens[s]; ok {
				in.NextToken = aws.String(tok)
			}
			out, err := t.c.logs.GetLogEvents(ctx, in)
			if err != nil {
				return Explain("reading log stream "+t.src.Group+"/"+s, err)
			}
			for _, e := range out.Events {
				lines = append(lines, logLine{at: aws.ToInt64(e.Timestamp), host: host, msg: aws.ToString(e.Message)})
			}
			next := aws.ToString(out.NextForwardToken)
			prev := t.tokens[s]
			if next != "" {
				t.tokens[s] = next
			}
			if len(out.Events) == 0 || next == "" || next == prev {
				break
			}
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at < lines[j].at })
	for _, l := range lines {
		msg := strings.TrimRight(l.msg, "\n")
		for _, m := range strings.Split(msg, "\n") {
			if _, err := io.WriteString(t.w, l.host+" | "+m+"\n"); err != nil {
				return err
			}
			t.Lines++
		}
	}
	return nil
}

func (t *Tail) streams(ctx context.Context) ([]string, error) {
	in := &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(t.src.Group)}
	if t.src.Prefix != "" {
		in.LogStreamNamePrefix = aws.String(t.src.Prefix)
	}
	var names []string
	p := cloudwatchlogs.NewDescribeLogStreamsPaginator(t.c.logs, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		var missing *logtypes.ResourceNotFoundException
		if errors.As(err, &missing) {
			return nil, nil
		}
		if err != nil {
			return nil, Explain("listing log streams of "+t.src.Group, err)
		}
		for _, s := range out.LogStreams {
			names = append(names, aws.ToString(s.LogStreamName))
		}
	}
	sort.Strings(names)
	return names, nil
}

// Follow polls until ctx ends or done reports true; after done it polls
// once more, so the last lines are not lost.
func (t *Tail) Follow(ctx context.Context, every time.Duration, done func(context.Context) (bool, error)) error {
	for {
		finished, err := done(ctx)
		if err != nil {
			return err
		}
		if err := t.Poll(ctx); err != nil {
			return err
		}
		if finished {
			return nil
		}
		if err := sleep(ctx, every); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
