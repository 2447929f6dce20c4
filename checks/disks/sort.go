package disks

import "sort"

func sortedNames(t *Topology) []string {
	names := make([]string, 0, len(t.Devices))
	for n := range t.Devices {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortDisks(ds []*DiskInfo) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
}
