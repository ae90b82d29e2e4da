package stripefake

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DemoScenario is the YAML scenario the demo starts from: three customers
// (a healthy subscriber, one whose latest payment failed with
// insufficient_funds, one with a refund and an open dispute).
//
//go:embed scenarios/demo.yaml
var DemoScenario string

// scenario is the YAML seed format; testdata/basic.yaml and
// scenarios/demo.yaml show every field. Times are ages before the clock's
// now ("90d", "2w", "36h").
type scenario struct {
	Account   *scenarioAccount   `yaml:"account"`
	Products  []scenarioProduct  `yaml:"products"`
	Prices    []scenarioPrice    `yaml:"prices"`
	Coupons   []scenarioCoupon   `yaml:"coupons"`
	Customers []scenarioCustomer `yaml:"customers"`
}

type scenarioAccount struct {
	ID              string `yaml:"id"`
	Name            string `yaml:"name"`
	Email           string `yaml:"email"`
	Country         string `yaml:"country"`
	DefaultCurrency string `yaml:"default_currency"`
}

type scenarioProduct struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

type scenarioPrice struct {
	ID            string `yaml:"id"`
	Product       string `yaml:"product"`
	ProductName   string `yaml:"product_name"`
	UnitAmount    int64  `yaml:"unit_amount"`
	Currency      string `yaml:"currency"`
	Interval      string `yaml:"interval"`
	IntervalCount int64  `yaml:"interval_count"`
	Nickname      string `yaml:"nickname"`
	LookupKey     string `yaml:"lookup_key"`
}

type scenarioCoupon struct {
	ID               string  `yaml:"id"`
	Name             string  `yaml:"name"`
	PercentOff       float64 `yaml:"percent_off"`
	AmountOff        int64   `yaml:"amount_off"`
	Currency         string  `yaml:"currency"`
	Duration         string  `yaml:"duration"`
	DurationInMonths int64   `yaml:"duration_in_months"`
}

type scenarioCustomer struct {
	ID            string                 `yaml:"id"`
	Name          string                 `yaml:"name"`
	Email         string                 `yaml:"email"`
	Phone         string                 `yaml:"phone"`
	Description   string                 `yaml:"description"`
	Age           string                 `yaml:"age"`
	Metadata      map[string]string      `yaml:"metadata"`
	Balance       int64                  `yaml:"balance"`
	Card          *scenarioCard          `yaml:"card"`
	Subscriptions []scenarioSubscription `yaml:"subscriptions"`
	Invoices      []scenarioInvoice      `yaml:"invoices"`
}

type scenarioCard struct {
	Brand    string `yaml:"brand"`
	Last4    string `yaml:"last4"`
	ExpMonth int64  `yaml:"exp_month"`
	ExpYear  int64  `yaml:"exp_year"`
}

type scenarioSubscription struct {
	ID                string            `yaml:"id"`
	Price             string            `yaml:"price"`
	Quantity          int64             `yaml:"quantity"`
	Age               string            `yaml:"age"`
	TrialDays         int64             `yaml:"trial_days"`
	Status            string            `yaml:"status"`
	Coupon            string            `yaml:"coupon"`
	CancelAtPeriodEnd bool              `yaml:"cancel_at_period_end"`
	CanceledAge       string            `yaml:"canceled_age"`
	PauseCollection   string            `yaml:"pause_collection"`
	Metadata          map[string]string `yaml:"metadata"`
	// Invoices are the outcomes of the subscription's invoices, oldest
	// first; invoices without an entry are paid.
	Invoices []scenarioInvoice `yaml:"invoices"`
}

// scenarioInvoice is an invoice's outcome; a bare string is its status.
type scenarioInvoice struct {
	ID          string            `yaml:"id"`
	Status      string            `yaml:"status"`
	Amount      int64             `yaml:"amount"`
	Currency    string            `yaml:"currency"`
	Description string            `yaml:"description"`
	Age         string            `yaml:"age"`
	DeclineCode string            `yaml:"decline_code"`
	Attempts    int64             `yaml:"attempts"`
	Refunds     []scenarioRefund  `yaml:"refunds"`
	Dispute     *scenarioDispute  `yaml:"dispute"`
	Metadata    map[string]string `yaml:"metadata"`
}

type scenarioRefund struct {
	Amount int64  `yaml:"amount"`
	Reason string `yaml:"reason"`
	After  string `yaml:"after"`
}

type scenarioDispute struct {
	Reason string `yaml:"reason"`
	Status string `yaml:"status"`
	Amount int64  `yaml:"amount"`
	After  string `yaml:"after"`
	DueIn  string `yaml:"due_in"`
}

func (si *scenarioInvoice) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		si.Status = n.Value
		return nil
	}
	type plain scenarioInvoice
	return n.Decode((*plain)(si))
}

func parseScenario(r io.Reader) (*scenario, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var sc scenario
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &sc, nil
}

// parseAge reads "90d", "2w" or any Go duration ("36h", "90m").
func parseAge(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			return time.Duration(v * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// LoadScenario seeds the server from a YAML scenario. Every object is
// created through the same code as the API, at its historical time, so
// the Events API shows the history; Options.EmitSeedEvents also sends it
// to webhook endpoints, oldest first.
func (s *Server) LoadScenario(r io.Reader) error {
	sc, err := parseScenario(r)
	if err != nil {
		return fmt.Errorf("parsing scenario: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.st.loadScenario(sc)
	return err
}

// LoadScenarioFile is LoadScenario from a file.
func (s *Server) LoadScenarioFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return s.LoadScenario(f)
}

func (st *state) loadScenario(sc *scenario) (ids []string, err error) {
	now := st.clock()
	st.holding = true
	defer func() {
		st.at = time.Time{}
		st.releaseHeld(st.emitSeed)
	}()
	if a := sc.Account; a != nil {
		st.applyScenarioAccount(*a)
	}
	earliest, err := sc.earliest(now)
	if err != nil {
		return nil, err
	}
	st.at = earliest.Add(-24 * time.Hour)
	if err := st.seedCatalog(sc); err != nil {
		return nil, err
	}
	for i, c := range sc.Customers {
		cust, err := st.seedCustomer(c, now)
		if err != nil {
			return nil, fmt.Errorf("customers[%d] %s: %w", i, c.Name, err)
		}
		ids = append(ids, cust.ID)
	}
	return ids, nil
}

func (st *state) applyScenarioAccount(a scenarioAccount) {
	if a.ID != "" {
		st.account.ID = a.ID
	}
	if a.Name != "" {
		st.account.Name = a.Name
	}
	if a.Email != "" {
		st.account.Email = a.Email
	}
	if a.Country != "" {
		st.account.Country = a.Country
	}
	if a.DefaultCurrency != "" {
		st.account.DefaultCurrency = a.DefaultCurrency
	}
}

// earliest is when the oldest seeded object is created; the catalog goes
// in a day before.
func (sc *scenario) earliest(now time.Time) (time.Time, error) {
	first := now
	for _, c := range sc.Customers {
		age, err := c.age()
		if err != nil {
			return now, err
		}
		if t := now.Add(-age); t.Before(first) {
			first = t
		}
	}
	return first, nil
}

// age is the customer's own age, or just older than anything it owns.
func (c scenarioCustomer) age() (time.Duration, error) {
	if c.Age != "" {
		return parseAge(c.Age, 0)
	}
	oldest := 30 * 24 * time.Hour
	for _, s := range c.Subscriptions {
		a, err := parseAge(s.Age, 0)
		if err != nil {
			return 0, err
		}
		oldest = max(oldest, a+time.Hour)
	}
	for _, inv := range c.Invoices {
		a, err := parseAge(inv.Age, 0)
		if err != nil {
			return 0, err
		}
		oldest = max(oldest, a+time.Hour)
	}
	return oldest, nil
}

func (st *state) seedCatalog(sc *scenario) error {
	for _, p := range sc.Products {
		if _, dup := st.products.get(p.ID); dup && p.ID != "" {
			return fmt.Errorf("product %s already exists", p.ID)
		}
		prod := st.newProduct(p.ID, p.Name)
		prod.description = p.Description
		st.emit("product.created", st.renderProduct(prod), nil)
	}
	for _, p := range sc.Prices {
		if _, dup := st.prices.get(p.ID); dup && p.ID != "" {
			return fmt.Errorf("price %s already exists", p.ID)
		}
		productID := p.Product
		if productID == "" {
			prod := st.newProduct("", p.ProductName)
			st.emit("product.created", st.renderProduct(prod), nil)
			productID = prod.ID
		} else if _, ok := st.products.get(productID); !ok {
			return fmt.Errorf("price %s: no such product %s", p.ID, productID)
		}
		currency := p.Currency
		if currency == "" {
			currency = st.account.DefaultCurrency
		}
		pr := st.newPrice(p.ID, productID, p.UnitAmount, currency, p.Interval, p.IntervalCount)
		pr.nickname, pr.lookupKey = p.Nickname, p.LookupKey
		st.emit("price.created", st.renderPrice(pr), nil)
	}
	for _, c := range sc.Coupons {
		if _, dup := st.coupons.get(c.ID); dup && c.ID != "" {
			return fmt.Errorf("coupon %s already exists", c.ID)
		}
		cp := st.newCoupon(c.ID)
		cp.name, cp.percentOff, cp.amountOff = c.Name, c.PercentOff, c.AmountOff
		cp.currency, cp.durationInMonths = strings.ToLower(c.Currency), c.DurationInMonths
		if c.Duration != "" {
			cp.duration = c.Duration
		}
		st.emit("coupon.created", st.renderCoupon(cp), nil)
	}
	return nil
}
