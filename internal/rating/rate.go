package rating

import "fmt"

// applyBP returns amount × bp / 10000 rounded half up to the nearest minor
// unit. Both arguments are non-negative, so half up is also half away from
// zero. This is the package's only rounding step.
func applyBP(amount, bp int64) int64 {
	return (amount*bp + 5_000) / 10_000
}

// Rate prices req with every insurer in the table and returns one quote per
// insurer, in table order. An insurer that will not write the risk gives a
// declined quote with a DeclineReason rather than an error.
//
// It returns an error matching ErrInvalidRequest, holding *FieldError values,
// when ValidateRequest rejects req or when req.Currency is set and is not the
// table's currency (field "currency").
func (t *Table) Rate(req Request) ([]Quote, error) {
	if err := ValidateRequest(req); err != nil {
		return nil, err
	}
	if req.Currency != "" && req.Currency != t.currency {
		return nil, &FieldError{Field: "currency", Message: fmt.Sprintf("must be %q, the rate table's currency, got %q", t.currency, req.Currency)}
	}
	quotes := make([]Quote, 0, len(t.insurers))
	for i := range t.insurers {
		quotes = append(quotes, t.insurers[i].quote(req, t.currency))
	}
	return quotes, nil
}

// quote prices a valid request for one insurer.
func (in *insurer) quote(req Request, currency string) Quote {
	q := Quote{
		Insurer:     in.code,
		InsurerName: in.name,
		SumInsured:  req.SumInsured,
		Currency:    currency,
		AddOns:      []AddOn{},
	}
	var (
		s         *section
		bands     []band
		rateAge   int // the age that selects a band
		loadingBP int64
		ncbBP     int64
		reason    string
	)
	switch req.Product {
	case ProductMotor:
		if in.motor == nil {
			return decline(q, fmt.Sprintf("%s does not write motor cover", in.name))
		}
		m := in.motor
		s, bands = &m.section, m.VehicleAgeLoadings
		rateAge = req.AsOf.Year() - req.Motor.VehicleYear
		loadingBP = in.makes[normalizeMake(req.Motor.VehicleMake)]
		if p := req.Motor.NCBPercent; p != nil {
			ncbBP = int64(*p) * 100
		}
		if rateAge > m.MaxVehicleAge {
			reason = fmt.Sprintf("vehicle is %d years old; %s covers vehicles up to %d years old", rateAge, in.name, m.MaxVehicleAge)
		}
	case ProductHealth:
		if in.health == nil {
			return decline(q, fmt.Sprintf("%s does not write health cover", in.name))
		}
		h := in.health
		s, bands = &h.section, h.AgeLoadings
		rateAge = req.Health.Age
		loadingBP = int64(req.Health.Members-1) * h.MemberLoadingBP
		switch {
		case rateAge > h.MaxEntryAge:
			reason = fmt.Sprintf("eldest member is %d; %s accepts new members up to age %d", rateAge, in.name, h.MaxEntryAge)
		case req.Health.Members > h.MaxMembers:
			reason = fmt.Sprintf("%d members; %s covers at most %d on one policy", req.Health.Members, in.name, h.MaxMembers)
		}
	default:
		// ValidateRequest has rejected every other product.
		return decline(q, fmt.Sprintf("%s does not write %q cover", in.name, req.Product))
	}
	q.Coverage = s.Coverage
	if req.SumInsured > s.MaxSumInsured {
		// The sum-insured limit is checked first so it is the reason given
		// when several rules decline the risk.
		reason = fmt.Sprintf("sum insured %d exceeds %s's maximum of %d (%s minor units)", req.SumInsured, in.name, s.MaxSumInsured, currency)
	}
	if reason != "" {
		return decline(q, reason)
	}
	b, ok := findBand(bands, rateAge)
	if !ok {
		// LoadTable guarantees a band for every age up to the maximum.
		return decline(q, fmt.Sprintf("%s has no rate for age %d", in.name, rateAge))
	}
	loadingBP += b.LoadingBP

	var bd Breakdown
	bd.Base = applyBP(req.SumInsured, s.BaseRateBP)
	bd.Loading = applyBP(bd.Base, loadingBP)
	bd.Discount = applyBP(bd.Base+bd.Loading, ncbBP)
	for _, a := range s.AddOns {
		if !a.Included {
			continue
		}
		p := a.Flat + applyBP(req.SumInsured, a.RateBP)
		q.AddOns = append(q.AddOns, AddOn{Code: a.Code, Name: a.Name, Premium: p})
		bd.AddOns += p
	}
	net := bd.Base + bd.Loading - bd.Discount + bd.AddOns
	if net < s.MinPremium {
		bd.Loading += s.MinPremium - net
		net = s.MinPremium
	}
	bd.Tax = applyBP(net, s.TaxBP)
	q.Premium = net + bd.Tax
	q.Breakdown = &bd
	return q
}

func decline(q Quote, reason string) Quote {
	q.Declined = true
	q.DeclineReason = reason
	return q
}

func findBand(bs []band, age int) (band, bool) {
	for _, b := range bs {
		if b.Min <= age && age <= b.Max {
			return b, true
		}
	}
	return band{}, false
}
