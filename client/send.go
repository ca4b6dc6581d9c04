package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxAnswer bounds an answer's body: a page of 100 deliveries, each with
// up to 64 KiB of response body, fits well within it.
const maxAnswer = 32 << 20

// errTooLarge refuses an answer over maxAnswer; a repeat would be as large.
var errTooLarge = fmt.Errorf("answer is larger than %d bytes", maxAnswer)

// answer is a 2xx answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends the call, repeating it as the retry policy allows, and decodes
// a 2xx answer's JSON into out unless out is nil.
func (c *Client) do(ctx context.Context, cl call, out any) (http.Header, error) {
	ans, err := c.send(ctx, cl)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(ans.body, out); err != nil {
			return nil, fmt.Errorf("trackelio: %s %s: decode the %d answer: %w", cl.method, cl.path, ans.status, err)
		}
	}
	return ans.header, nil
}

// send makes the call's attempts: the body is marshalled once and every
// attempt sends the same bytes and headers.
func (c *Client) send(ctx context.Context, cl call) (answer, error) {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return answer{}, fmt.Errorf("trackelio: %s %s: encode the request: %w", cl.method, cl.path, err)
		}
	}
	start := c.now()
	for attempt := 1; ; attempt++ {
		ans, err := c.attempt(ctx, cl, body)
		if err == nil {
			return ans, nil
		}
		wait, ok := c.nextWait(ctx, cl, attempt, start, err)
		if !ok {
			return answer{}, failed(cl, attempt, err)
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return answer{}, failed(cl, attempt, fmt.Errorf("%w while waiting to retry after: %w", serr, err))
		}
	}
}

// attempt sends the request once. An answer other than 2xx is an *Error;
// a failure to send it or to read the whole answer is returned as is.
func (c *Client) attempt(ctx context.Context, cl call, body []byte) (answer, error) {
	req, err := c.newRequest(ctx, cl, body)
	if err != nil {
		return answer{}, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return answer{}, fmt.Errorf("read the %d answer: %w", res.StatusCode, err)
	}
	if len(data) > maxAnswer {
		return answer{}, fmt.Errorf("the %d answer: %w", res.StatusCode, errTooLarge)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return answer{}, newError(res.StatusCode, res.Header, data, c.now())
	}
	return answer{status: res.StatusCode, header: res.Header, body: data}, nil
}

// failed names the call, and how many attempts it took, in its error.
func failed(cl call, attempts int, err error) error {
	if attempts > 1 {
		return fmt.Errorf("trackelio: %s %s (%d attempts): %w", cl.method, cl.path, attempts, err)
	}
	return fmt.Errorf("trackelio: %s %s: %w", cl.method, cl.path, err)
}
