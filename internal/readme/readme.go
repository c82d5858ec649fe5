package readme

import "strings"

// shells are the info strings of fenced blocks that hold commands.
var shells = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

// Blocks returns the command blocks of the Markdown document md in order:
// fenced blocks tagged sh, bash, shell or console, and indented code blocks
// (four spaces, after a blank line), each without its indentation.
func Blocks(md string) []string {
	var (
		blocks []string
		cur    []string
		fence  string // the open fence, "" outside one
		keep   bool   // the open fence holds commands
		blank  = true // the previous line was blank (or the start)
		indent bool   // inside an indented block
	)
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
		}
		cur = nil
	}
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
				if keep {
					flush()
				}
				fence, cur = "", nil
			} else if keep {
				cur = append(cur, line)
			}
		case strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~"):
			if indent {
				flush()
				indent = false
			}
			fence = trimmed[:3]
			keep = shells[strings.TrimSpace(trimmed[3:])]
		case indent && (strings.HasPrefix(line, "    ") || trimmed == ""):
			cur = append(cur, strings.TrimPrefix(line, "    "))
		case !indent && blank && strings.HasPrefix(line, "    ") && trimmed != "":
			indent = true
			cur = append(cur, strings.TrimPrefix(line, "    "))
		default:
			if indent {
				flush()
				indent = false
			}
		}
		blank = trimmed == ""
	}
	if indent {
		flush()
	}
	for i, b := range blocks {
		blocks[i] = strings.TrimRight(b, "\n") + "\n"
	}
	return blocks
}

// Commands returns the command lines of a block: continuation lines
// (ending in a backslash) joined, comments and blank lines left out.
func Commands(block string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\"))
			continue
		}
		cur.WriteString(t)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}
