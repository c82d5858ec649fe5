package cli

import (
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
)

// The SageMaker tests share one moto_server, stopped when they end.
func TestMain(m *testing.M) { testenv.MotoMain(m) }
