package training

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// CheckpointSyncInterval is how often a running job's checkpoint
// directory is mirrored to CheckpointConfig.S3Uri (and once more when the
// job ends).
const CheckpointSyncInterval = 2 * time.Second

// inputs is what a job's hosts are given.
type inputs struct {
	// dirs are the File and FastFile channels, mounted read-only.
	dirs map[string]string
	// pipes are the Pipe channels.
	pipes  map[string]platform.PipeSource
	config map[string]optml.Channel
	// checkpoint is checkpointconfig.json; checkpointPath where the
	// directory is in the container; mirror keeps S3Uri a copy of
	// algo-1's.
	checkpoint     *optml.CheckpointConfig
	checkpointPath string
	mirror         *data.Mirror
}

// inputs fetches the channels (an s3:// prefix is downloaded, a file://
// directory used in place) and the checkpoints; an error is the job's
// FailureReason.
func (m *Manager) inputs(ctx context.Context, r CreateRequest, work string) (*inputs, error) {
	in := &inputs{dirs: map[string]string{}, pipes: map[string]platform.PipeSource{}, config: map[string]optml.Channel{}}
	for _, ch := range r.InputDataConfig {
		loc, _ := data.Parse(ch.DataSource.S3DataSource.S3Uri)
		dir, err := m.mover.Dir(ctx, loc, filepath.Join(work, "channels", ch.ChannelName))
		if err != nil {
			return nil, fmt.Errorf("ClientError: channel %s: %v", ch.ChannelName, err)
		}
		mode := r.mode(ch)
		in.config[ch.ChannelName] = optml.Channel{TrainingInputMode: mode, S3DistributionType: "FullyReplicated", RecordWrapperType: orNone(ch.RecordWrapperType), ContentType: ch.ContentType}
		if mode == optml.InputModePipe {
			in.pipes[ch.ChannelName] = pipeSource(dir, ch.CompressionType == "Gzip")
			continue
		}
		// FastFile: the files as in File mode, read-only as SageMaker
		// mounts them.
		in.dirs[ch.ChannelName] = dir
	}
	c := r.CheckpointConfig
	if c == nil {
		return in, nil
	}
	in.checkpointPath = c.LocalPath
	if in.checkpointPath == "" {
		in.checkpointPath = "/opt/ml/checkpoints"
	}
	in.checkpoint = &optml.CheckpointConfig{LocalPath: in.checkpointPath, S3URI: c.S3Uri}
	loc, _ := data.Parse(c.S3Uri)
	// Every host starts with what is at S3Uri; algo-1's directory is
	// mirrored back.
	for i := range r.ResourceConfig.InstanceCount {
		host := fmt.Sprintf("algo-%d", i+1)
		dir := optml.At(filepath.Join(work, "hosts", host)).Checkpoints()
		got, err := m.mover.Fetch(ctx, loc, dir)
		if err != nil {
			return nil, fmt.Errorf("ClientError: CheckpointConfig.S3Uri: %v", err)
		}
		if i == 0 {
			in.mirror = m.mover.Mirror(dir, loc, got)
		}
	}
	return in, nil
}

// syncCheckpoints mirrors the checkpoints every CheckpointSyncInterval
// until done is closed, then once more.
func (m *Manager) syncCheckpoints(ctx context.Context, job string, mi *data.Mirror, done <-chan struct{}) {
	t := time.NewTicker(CheckpointSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-done:
			if err := mi.Sync(context.WithoutCancel(ctx)); err != nil {
				m.log.Warn("uploading checkpoints", "job", job, "err", err)
			}
			return
		}
		if err := mi.Sync(ctx); err != nil {
			m.log.Warn("uploading checkpoints", "job", job, "err", err)
		}
	}
}

// pipeSource streams every file under dir, in path order, as one epoch
// of a Pipe channel, decompressing each when gz is set.
func pipeSource(dir string, gz bool) platform.PipeSource {
	return func(ctx context.Context, _ int, w io.Writer) error {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			var r io.Reader = f
			if gz {
				zr, err := gzip.NewReader(f)
				if err != nil {
					return fmt.Errorf("decompressing %s: %w", p, err)
				}
				defer zr.Close()
				r = zr
			}
			_, err = io.Copy(w, r)
			return err
		})
	}
}
