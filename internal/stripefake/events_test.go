package stripefake

import (
	"testing"

	"github.com/stripe/stripe-go/v76"
)

func TestEventsAPI(t *testing.T) {
	f := newBasic(t, Options{})
	listAll := func(params *stripe.EventListParams) []*stripe.Event {
		t.Helper()
		it := f.sc.Events.List(params)
		var out []*stripe.Event
		for it.Next() {
			out = append(out, it.Event())
		}
		mustNoErr(t, it.Err())
		return out
	}
	all := listAll(&stripe.EventListParams{})
	if len(all) != len(f.Events()) {
		t.Fatalf("listed %d of %d events", len(all), len(f.Events()))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Created > all[i-1].Created {
			t.Fatalf("events not newest first at %d", i)
		}
	}

	failed := listAll(&stripe.EventListParams{Type: stripe.String("invoice.payment_failed")})
	if len(failed) != 1 || failed[0].Data.Object["customer"] != "cus_failed" || failed[0].Request.ID != "" {
		t.Fatalf("payment_failed events %+v", failed)
	}
	wild := listAll(&stripe.EventListParams{Type: stripe.String("charge.dispute.*")})
	if len(wild) != 1 || wild[0].Type != "charge.dispute.created" {
		t.Fatalf("wildcard matched %d", len(wild))
	}

	cursor := testNow.Add(-7 * 24 * 3600e9).Unix()
	recent := listAll(&stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThan: cursor}})
	for _, ev := range recent {
		if ev.Created <= cursor {
			t.Fatalf("created[gt] let through %d", ev.Created)
		}
	}
	if len(recent) == 0 || len(recent) == len(all) {
		t.Fatalf("created[gt] kept %d of %d", len(recent), len(all))
	}

	ev, err := f.sc.Events.Get(all[0].ID, nil)
	mustNoErr(t, err)
	if ev.ID != all[0].ID || ev.Data.Object == nil {
		t.Fatalf("retrieved %+v", ev)
	}

	params := &stripe.CustomerParams{Name: stripe.String("Paula P.")}
	params.SetIdempotencyKey("rename-1")
	_, err = f.sc.Customers.Update("cus_paid", params)
	mustNoErr(t, err)
	latest := listAll(&stripe.EventListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(1), Single: true}})
	if latest[0].Type != "customer.updated" || latest[0].Request.IdempotencyKey != "rename-1" || latest[0].Request.ID == "" ||
		latest[0].GetPreviousValue("name") != "Paula Paid" {
		t.Fatalf("latest %+v", latest[0])
	}
}
