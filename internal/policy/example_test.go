package policy_test

import (
	"fmt"

	"insure/internal/policy"
)

func ExampleNearestThreshold() {
	for _, days := range []int{45, 30, 20, 10, 7, 1, 0, -1} {
		t, ok := policy.NearestThreshold(days)
		fmt.Printf("%3d days left: threshold %2d %-5v urgency %q\n", days, t, ok, policy.UrgencyFor(days))
	}
	// Output:
	//  45 days left: threshold  0 false urgency ""
	//  30 days left: threshold 30 true  urgency "low"
	//  20 days left: threshold 30 true  urgency "low"
	//  10 days left: threshold 15 true  urgency "medium"
	//   7 days left: threshold  7 true  urgency "high"
	//   1 days left: threshold  1 true  urgency "critical"
	//   0 days left: threshold  1 true  urgency "critical"
	//  -1 days left: threshold  0 false urgency "critical"
}

func ExampleNumberFor() {
	start, _ := policy.ParseDate("2026-01-10")
	fmt.Println(policy.NumberFor("0193a5f2-7c1e-7d3a-9b1f-2f4e0f3a9c21", "motor", start))
	// Output: MOT-2026-0F3A9C21
}
