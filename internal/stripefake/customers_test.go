package stripefake

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

func TestCustomerCRUD(t *testing.T) {
	f := newFake(t, Options{})
	params := &stripe.CustomerParams{Email: stripe.String("ann@example.com"), Name: stripe.String("Ann")}
	params.AddMetadata("matrix_user_id", "@ann:localhost")
	params.AddMetadata("tier", "gold")
	c, err := f.sc.Customers.New(params)
	mustNoErr(t, err)
	if len(c.ID) != len("cus_")+14 || c.ID[:4] != "cus_" || c.Created != testNow.Unix() || c.Metadata["tier"] != "gold" {
		t.Fatalf("created %+v", c)
	}

	got, err := f.sc.Customers.Get(c.ID, nil)
	mustNoErr(t, err)
	if got.Email != "ann@example.com" || got.Name != "Ann" || got.InvoiceSettings == nil || got.Livemode {
		t.Fatalf("retrieved %+v", got)
	}

	update := &stripe.CustomerParams{Name: stripe.String("Ann Lee")}
	update.AddMetadata("tier", "")
	update.AddMetadata("plan", "pro")
	up, err := f.sc.Customers.Update(c.ID, update)
	mustNoErr(t, err)
	want := map[string]string{"matrix_user_id": "@ann:localhost", "plan": "pro"}
	if up.Name != "Ann Lee" || fmt.Sprint(up.Metadata) != fmt.Sprint(want) {
		t.Fatalf("updated %+v", up)
	}

	evs := f.Events()
	last := evs[len(evs)-1]
	if last.Type != "customer.updated" {
		t.Fatalf("last event %s", last.Type)
	}
	var ev stripe.Event
	mustNoErr(t, json.Unmarshal(last.JSON, &ev))
	prev := ev.Data.PreviousAttributes
	if prev["name"] != "Ann" || ev.GetPreviousValue("metadata", "tier") != "gold" || prev["metadata"].(map[string]any)["plan"] != nil {
		t.Fatalf("previous_attributes = %v", prev)
	}
	if ev.APIVersion != APIVersion || ev.Request == nil || ev.Request.ID == "" {
		t.Fatalf("event envelope = %+v", ev)
	}

	del, err := f.sc.Customers.Del(c.ID, nil)
	mustNoErr(t, err)
	if !del.Deleted {
		t.Fatal("delete did not report deleted")
	}
	gone, err := f.sc.Customers.Get(c.ID, nil)
	mustNoErr(t, err)
	if !gone.Deleted {
		t.Fatal("a deleted customer should come back as a deleted stub")
	}
	_, err = f.sc.Customers.Update(c.ID, &stripe.CustomerParams{Name: stripe.String("x")})
	wantCode(t, err, 404, stripe.ErrorCodeResourceMissing)
}

func TestCustomerListAndPagination(t *testing.T) {
	f := newFake(t, Options{})
	var ids []string
	for i := 0; i < 25; i++ {
		email := fmt.Sprintf("user%d@example.com", i%5)
		c, err := f.sc.Customers.New(&stripe.CustomerParams{Email: stripe.String(email)})
		mustNoErr(t, err)
		ids = append(ids, c.ID)
		if i%7 == 0 {
			f.clock.Advance(1e9) // some in the same second, some not
		}
	}
	t.Run("iterator walks every page newest first", func(t *testing.T) {
		params := &stripe.CustomerListParams{}
		params.Limit = stripe.Int64(10)
		it := f.sc.Customers.List(params)
		var got []string
		for it.Next() {
			got = append(got, it.Customer().ID)
		}
		mustNoErr(t, it.Err())
		if len(got) != 25 {
			t.Fatalf("iterated %d customers", len(got))
		}
		for i := range got {
			if got[i] != ids[24-i] {
				t.Fatalf("position %d: %s, want %s", i, got[i], ids[24-i])
			}
		}
	})
	t.Run("single page reports has_more", func(t *testing.T) {
		params := &stripe.CustomerListParams{}
		params.Limit = stripe.Int64(3)
		params.Single = true
		it := f.sc.Customers.List(params)
		n := 0
		for it.Next() {
			n++
		}
		if n != 3 || !it.Meta().HasMore || it.Meta().URL != "/v1/customers" {
			t.Fatalf("n=%d meta=%+v", n, it.Meta())
		}
	})
	t.Run("ending_before pages backwards", func(t *testing.T) {
		params := &stripe.CustomerListParams{}
		params.Limit = stripe.Int64(2)
		params.EndingBefore = stripe.String(ids[10])
		it := f.sc.Customers.List(params)
		var got []string
		for it.Next() {
			got = append(got, it.Customer().ID)
		}
		if len(got) != 14 || got[0] != ids[11] || got[13] != ids[24] {
			t.Fatalf("backwards from %s got %v", ids[10], got)
		}
	})
	t.Run("filter by email", func(t *testing.T) {
		params := &stripe.CustomerListParams{Email: stripe.String("user3@example.com")}
		it := f.sc.Customers.List(params)
		n := 0
		for it.Next() {
			if it.Customer().Email != "user3@example.com" {
				t.Fatalf("got %s", it.Customer().Email)
			}
			n++
		}
		if n != 5 {
			t.Fatalf("found %d", n)
		}
	})
	t.Run("unknown cursor and bad limit", func(t *testing.T) {
		params := &stripe.CustomerListParams{}
		params.StartingAfter = stripe.String("cus_nope")
		it := f.sc.Customers.List(params)
		it.Next()
		wantCode(t, it.Err(), 404, stripe.ErrorCodeResourceMissing)
		params = &stripe.CustomerListParams{}
		params.Limit = stripe.Int64(101)
		it = f.sc.Customers.List(params)
		it.Next()
		if se := stripeErr(t, it.Err()); se.HTTPStatusCode != 400 || se.Param != "limit" {
			t.Fatalf("limit error %+v", se)
		}
	})
}

func TestCustomerSearch(t *testing.T) {
	f := newBasic(t, Options{})
	search := func(q string, limit int64) ([]string, error) {
		params := &stripe.CustomerSearchParams{}
		params.Query = q
		params.Limit = stripe.Int64(limit)
		it := f.sc.Customers.Search(params)
		var ids []string
		for it.Next() {
			ids = append(ids, it.Customer().ID)
		}
		return ids, it.Err()
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"email:'paula@example.com'", []string{"cus_paid"}},
		{"name~'fred'", []string{"cus_failed"}},
		{"metadata['matrix_user_id']:'@paula:example.org'", []string{"cus_paid"}},
		{"email:'rita@example.com' OR email:'dan@example.com'", []string{"cus_refund", "cus_dispute"}},
		{"email:'nobody@example.com'", nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			got, err := search(tc.query, 10)
			mustNoErr(t, err)
			if !sameSet(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("pages through next_page", func(t *testing.T) {
		got, err := search("email~'example.com'", 2)
		mustNoErr(t, err)
		if len(got) != 7 || !distinct(got) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("bad query is a 400", func(t *testing.T) {
		_, err := search("email='x'", 10)
		if se := stripeErr(t, err); se.HTTPStatusCode != 400 || se.Param != "query" {
			t.Fatalf("error %+v", se)
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	return contains(a, b...)
}

func distinct(a []string) bool {
	seen := map[string]bool{}
	for _, s := range a {
		if seen[s] {
			return false
		}
		seen[s] = true
	}
	return true
}

func TestPaymentMethods(t *testing.T) {
	f := newFake(t, Options{})
	c, err := f.sc.Customers.New(&stripe.CustomerParams{PaymentMethod: stripe.String("pm_card_visa"),
		InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String("pm_card_visa")}})
	mustNoErr(t, err)
	def := c.InvoiceSettings.DefaultPaymentMethod
	if def == nil || def.ID[:3] != "pm_" || def.ID == "pm_card_visa" {
		t.Fatalf("default payment method %+v", def)
	}

	pm, err := f.sc.PaymentMethods.Attach("pm_card_mastercard", &stripe.PaymentMethodAttachParams{Customer: stripe.String(c.ID)})
	mustNoErr(t, err)
	if pm.Card.Brand != "mastercard" || pm.Card.Last4 != "4444" || pm.Customer.ID != c.ID || pm.Card.ExpYear == 0 {
		t.Fatalf("attached %+v", pm.Card)
	}

	it := f.sc.PaymentMethods.List(&stripe.PaymentMethodListParams{Customer: stripe.String(c.ID), Type: stripe.String("card")})
	n := 0
	for it.Next() {
		n++
	}
	mustNoErr(t, it.Err())
	cit := f.sc.Customers.ListPaymentMethods(&stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(c.ID)})
	m := 0
	for cit.Next() {
		m++
	}
	if n != 2 || m != 2 {
		t.Fatalf("listed %d and %d payment methods, want 2", n, m)
	}

	_, err = f.sc.PaymentMethods.Detach(def.ID, nil)
	mustNoErr(t, err)
	after, err := f.sc.Customers.Get(c.ID, nil)
	mustNoErr(t, err)
	if after.InvoiceSettings.DefaultPaymentMethod != nil {
		t.Fatal("detaching the default payment method should clear it")
	}
	_, err = f.sc.PaymentMethods.Detach(def.ID, nil)
	wantCode(t, err, 400, "")

	t.Run("declining card refused on attach, like Stripe", func(t *testing.T) {
		_, err := f.sc.PaymentMethods.Attach("pm_card_chargeDeclined", &stripe.PaymentMethodAttachParams{Customer: stripe.String(c.ID)})
		se := wantCode(t, err, 402, stripe.ErrorCodeCardDeclined)
		if se.DeclineCode != stripe.DeclineCodeGenericDecline || se.Type != stripe.ErrorTypeCard {
			t.Fatalf("error %+v", se)
		}
	})
	t.Run("default must belong to the customer", func(t *testing.T) {
		other, err := f.sc.PaymentMethods.New(&stripe.PaymentMethodParams{Type: stripe.String("card"),
			Card: &stripe.PaymentMethodCardParams{Token: stripe.String("tok_visa")}})
		mustNoErr(t, err)
		_, err = f.sc.Customers.Update(c.ID, &stripe.CustomerParams{
			InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(other.ID)}})
		se := wantCode(t, err, 400, stripe.ErrorCodeResourceMissing)
		if se.Param != "invoice_settings[default_payment_method]" {
			t.Fatalf("param %q", se.Param)
		}
	})
}

func TestExpand(t *testing.T) {
	f := newBasic(t, Options{})
	t.Run("customer default payment method", func(t *testing.T) {
		params := &stripe.CustomerParams{}
		params.AddExpand("invoice_settings.default_payment_method")
		c, err := f.sc.Customers.Get("cus_paid", params)
		mustNoErr(t, err)
		if pm := c.InvoiceSettings.DefaultPaymentMethod; pm.Card == nil || pm.Card.Last4 != "4242" {
			t.Fatalf("not expanded: %+v", pm)
		}
		plain, err := f.sc.Customers.Get("cus_paid", nil)
		mustNoErr(t, err)
		if plain.InvoiceSettings.DefaultPaymentMethod.Card != nil {
			t.Fatal("expanded without being asked")
		}
	})
	t.Run("list items and nested paths", func(t *testing.T) {
		params := &stripe.InvoiceListParams{Customer: stripe.String("cus_paid")}
		params.AddExpand("data.customer")
		params.AddExpand("data.charge")
		params.AddExpand("data.payment_intent.latest_charge")
		it := f.sc.Invoices.List(params)
		n := 0
		for it.Next() {
			inv := it.Invoice()
			if inv.Customer.Email != "paula@example.com" || inv.Charge.PaymentMethodDetails.Card.Last4 != "4242" ||
				inv.PaymentIntent.Status != stripe.PaymentIntentStatusSucceeded || inv.PaymentIntent.LatestCharge.Amount != 1000 {
				t.Fatalf("invoice %s not expanded: %+v", inv.ID, inv.Customer)
			}
			n++
		}
		mustNoErr(t, it.Err())
		if n != 3 {
			t.Fatalf("cus_paid has %d invoices, want 3", n)
		}
	})
	t.Run("subscription latest invoice and product", func(t *testing.T) {
		params := &stripe.SubscriptionParams{}
		params.AddExpand("latest_invoice.payment_intent")
		params.AddExpand("items.data.price.product")
		params.AddExpand("customer")
		s, err := f.sc.Subscriptions.Get("sub_paid", params)
		mustNoErr(t, err)
		if s.LatestInvoice.PaymentIntent.Amount != 1000 || s.Items.Data[0].Price.Product.Name != "Basic" || s.Customer.Name != "Paula Paid" {
			t.Fatalf("subscription not expanded: %+v", s.LatestInvoice)
		}
	})
	t.Run("charge refunds are includable", func(t *testing.T) {
		inv, err := f.sc.Invoices.Get("in_refunded", nil)
		mustNoErr(t, err)
		params := &stripe.ChargeParams{}
		params.AddExpand("refunds")
		params.AddExpand("invoice")
		ch, err := f.sc.Charges.Get(inv.Charge.ID, params)
		mustNoErr(t, err)
		if ch.Refunds == nil || len(ch.Refunds.Data) != 1 || ch.Refunds.Data[0].Amount != 2000 || ch.Invoice.ID != "in_refunded" {
			t.Fatalf("charge %+v", ch.Refunds)
		}
	})
	t.Run("customer subscriptions are includable", func(t *testing.T) {
		params := &stripe.CustomerParams{}
		params.AddExpand("subscriptions")
		c, err := f.sc.Customers.Get("cus_canceled", params)
		mustNoErr(t, err)
		if c.Subscriptions == nil || len(c.Subscriptions.Data) != 0 {
			t.Fatalf("ended subscriptions should not be listed: %+v", c.Subscriptions)
		}
		c, err = f.sc.Customers.Get("cus_paid", params)
		mustNoErr(t, err)
		if len(c.Subscriptions.Data) != 1 || c.Subscriptions.Data[0].ID != "sub_paid" {
			t.Fatalf("subscriptions %+v", c.Subscriptions)
		}
	})
	t.Run("bad paths are a 400", func(t *testing.T) {
		for _, path := range []string{"currency", "nothing", "a.b.c.d.e"} {
			params := &stripe.CustomerParams{}
			params.AddExpand(path)
			_, err := f.sc.Customers.Get("cus_paid", params)
			if se := stripeErr(t, err); se.HTTPStatusCode != 400 || se.Param != "expand" {
				t.Fatalf("expand %s: %+v", path, se)
			}
		}
	})
}
